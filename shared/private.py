"""Folders for the user alone: where the project keeps what it will later load as code (compiled
kernels, whose index numba unpickles) or trust as a record (a kernel check that passed).

Unpickling a file runs whatever it asks for, so a file another user could have written must never
be unpickled. `make_private(folder, top)` creates the folders from `top` down to `folder` with
mode 0700; `distrust(folder, top)` says why a folder may not be read (None when it may): every
folder from `top` down to `folder` must belong to the user and be writable by nobody else, and
`top`'s parent must not let others rename `top` (writable by others without the sticky bit, as
/tmp has). Files inside must belong to the user too. The check is made before anything is read:
a folder that fails it is treated as empty. On systems without POSIX owners (Windows), the user's
profile is private already and nothing is checked.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["distrust", "make_private"]


def _chain(folder: Path, top: Path) -> list[Path]:
    """`top`, then each folder below it down to `folder` (which must lie at or below `top`)."""
    folder, top = Path(folder), Path(top)
    rest = folder.relative_to(top).parts  # ValueError where folder is not below top
    return [top.joinpath(*rest[:i]) for i in range(len(rest) + 1)]


def make_private(folder: str | os.PathLike[str], top: str | os.PathLike[str]) -> Path:
    """Create `folder` and the folders between `top` and it, each for the user alone (0700,
    whatever the umask); folders that exist already are left as they are (`distrust` judges
    them). `top`'s parents are made as a plain mkdir makes them."""
    chain = _chain(Path(folder), Path(top))
    chain[0].parent.mkdir(parents=True, exist_ok=True)
    for path in chain:
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            continue
        os.chmod(path, 0o700)  # mkdir's mode passes through the umask; a umask of 077+ is fine
    return Path(folder)


def distrust(folder: str | os.PathLike[str], top: str | os.PathLike[str]) -> str | None:
    """Why `folder` (at or below `top`) and the files in it may not be trusted, or None."""
    if not hasattr(os, "getuid"):
        return None
    uid = os.getuid()
    chain = _chain(Path(folder), Path(top))
    try:
        parent = os.stat(chain[0].parent)
        if parent.st_mode & stat.S_IWOTH and not parent.st_mode & stat.S_ISVTX:
            return f"{chain[0].parent} is writable by others (mode {_mode(parent)}, no sticky bit)"
        for path in chain:
            st = os.stat(path)
            if not stat.S_ISDIR(st.st_mode):
                return f"{path} is not a folder"
            if why := _not_owned(path, st, uid):
                return why
            if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                return f"{path} is writable by group or others (mode {_mode(st)})"
        with os.scandir(chain[-1]) as entries:
            for entry in entries:
                if why := _not_owned(Path(entry.path), entry.stat(follow_symlinks=False), uid):
                    return why
    except OSError as e:
        return f"{e.filename or folder} cannot be checked ({e.strerror or e})"
    return None


def _not_owned(path: Path, st: os.stat_result, uid: int) -> str | None:
    if st.st_uid != uid:
        return f"{path} belongs to user {st.st_uid}, not to this one ({uid})"
    return None


def _mode(st: os.stat_result) -> str:
    return f"{stat.S_IMODE(st.st_mode):04o}"
