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


#: the hold's file inside a held folder: "<pid> <host>"
HOLD = ".in-use"


@contextlib.contextmanager
def hold_folder(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold `folder` for this process while the block runs, so that two runs writing the same
    files cannot mix them: a second holder gets FolderInUse at once, naming the first. A hold
    left by a process that is gone (killed outright) on this host is taken over; one from
    another host cannot be judged from here and is named, with the file to remove."""
    hold = Path(folder) / HOLD
    me = f"{os.getpid()} {socket.gethostname()}"
    for _ in range(3):
        try:
            fd = os.open(hold, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            break
        except FileExistsError:
            try:
                pid, _, host = hold.read_text(encoding="utf-8").strip().partition(" ")
            except OSError:  # released in between: try again
                continue
            if host != socket.gethostname():
                raise FolderInUse(
                    f"{folder} is held by process {pid} on {host} (remove {hold} if that run is over)"
                ) from None
            if pid.isdigit() and _running(int(pid)) and int(pid) != os.getpid():
                raise FolderInUse(
                    f"{folder} is in use by process {pid} (another run writing there); wait for it or choose another folder"
                ) from None
            with contextlib.suppress(FileNotFoundError):  # a dead run's hold: taken over
                os.unlink(hold)
    else:
        raise FolderInUse(f"{folder}: could not take its hold {hold}")
    with os.fdopen(fd, "w") as f:
        f.write(me + "\n")
    try:
        yield Path(folder)
    finally:
        with contextlib.suppress(OSError):
            if hold.read_text(encoding="utf-8").strip() == me:
                hold.unlink()
