"""Atomic file writes: a reader (or a crash) never sees half a file. And where the project keeps
what it downloads or compiles: `cache_dir()`.

Every file the project writes that someone may rely on (benchmark JSON, downloaded data, model
checkpoints) goes through here: write a temporary file in the same folder, flush it to disk, then
rename it over the target, which POSIX and Windows both do atomically within one file system.
"""

from __future__ import annotations

import contextlib
import glob
import os
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "FolderInUse",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "cache_dir",
    "hold_folder",
    "remove_stale_temporaries",
]


def cache_dir() -> Path:
    """The user's cache folder for the project: `$XDG_CACHE_HOME/nn-foundations`, by default
    `~/.cache/nn-foundations` (data sets that were downloaded, compiled kernels)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nn-foundations"


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> Path:
    """Call `write(f)` on a temporary file beside `path`, then move it into place.

    If `write` raises, the temporary file is removed and `path` is left as it was. A process
    killed outright (kill -9, a power cut) cannot remove its temporary file: the name carries the
    writer's process id, and the next write to the same path removes those whose writer is gone.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    prefix = f".{path.name}.{os.getpid()}."
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    try:
        if os.name == "posix":  # (Windows has no such mode bits, and os.fchmod only from 3.13)
            # mkstemp makes the file private (0600); give it the mode a plain open() would have
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove the temporary files that writers of `path` left behind when they died (their
    process id no longer runs); return them. Others' files in progress are left alone."""
    removed = []
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = tmp.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:  # gone already, or not ours to remove
                pass
    return removed


def _running(pid: int) -> bool:
    if os.name == "nt":
        return _running_windows(pid)
    try:
        os.kill(pid, 0)  # signal 0: no signal, only the check that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, and belongs to someone else
        return True
    return True


def _running_windows(pid: int) -> bool:
    """Whether process `pid` runs, asked of Windows itself: there, os.kill(pid, 0) is no check
    but sends CTRL_C_EVENT (whose value is 0) to the process's console group."""
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.OpenProcess.restype = ctypes.c_void_p
    kernel32.GetExitCodeProcess.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_ulong)]
    kernel32.CloseHandle.argtypes = [ctypes.c_void_p]
    query_limited_information, still_active, access_denied = 0x1000, 259, 5
    handle = kernel32.OpenProcess(query_limited_information, False, pid)
    if not handle:  # no such process, or one we may not even ask about: then it exists
        return ctypes.get_last_error() == access_denied
    try:
        code = ctypes.c_ulong()
        return bool(kernel32.GetExitCodeProcess(handle, ctypes.byref(code))) and (
            code.value == still_active
        )
    finally:
        kernel32.CloseHandle(handle)


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


class FolderInUse(ValueError):
    """Another running process holds the folder; the message names it."""


#: the hold's file inside a held folder: the holder's "<pid> <host>", for the message of a run
#: refused; what holds is the operating system's lock on it, which ends with the process
HOLD = ".in-use"


def _try_lock(fd: int) -> bool:
    """Take an exclusive lock on the open file `fd` without waiting; False if another open of
    the file (this process's or another's) has it. The system drops it when the holder exits,
    however it ends, so a killed run leaves no hold behind."""
    try:
        if os.name == "nt":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _holder(fd: int) -> str:
    """What the holder wrote in the hold: 'process <pid> on <host>' (or less, if it has not yet,
    or where the lock keeps others from reading, as on Windows)."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 200).decode("utf-8", "replace")
    except OSError:
        text = ""
    pid, _, host = text.strip().partition(" ")
    if not pid:
        return "another run"
    return f"process {pid}" + ("" if host == socket.gethostname() else f" on {host}")


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


@contextlib.contextmanager
def hold_folder(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold `folder` for this process while the block runs, so that two runs writing the same
    files cannot mix them: a second holder gets FolderInUse at once, naming the first. The hold
    is an exclusive lock on the file HOLD, which the system releases when its process ends: a
    run killed outright leaves a file that the next run simply locks. (A lock taken on a file
    that its holder has just removed is let go and taken again on the new one.)"""
    hold = Path(folder) / HOLD
    for _ in range(5):
        fd = os.open(hold, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(fd):
            who = _holder(fd)
            os.close(fd)
            raise FolderInUse(
                f"{folder} is in use by {who} (another run writing there); wait for it or "
                "choose another folder"
            )
        if _same_file(fd, hold):
            break
        os.close(fd)  # the file was removed as we locked it: its holder has just let go
    else:
        raise FolderInUse(f"{folder}: could not take its hold {hold}")
    try:
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        yield Path(folder)
    finally:
        with contextlib.suppress(OSError):  # removed while still locked: no one can take it between
            hold.unlink()
        os.close(fd)
