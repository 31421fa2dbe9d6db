"""Which files the installed project is built from, and one digest of them all.

`nox` keeps each session's virtualenv between runs and reinstalls the project only when this
digest changed (noxfile.py loads this file by its path, before anything is installed, so it uses
the standard library alone). The digest covers the root build files and every file of every
package (a folder with a meson.build), except what the build never reads: tests, results,
figures, READMEs and caches. Content and names only: a file touched without change, or a
checkout moved elsewhere, gives the same digest; any changed byte gives another.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["BUILD_FILES", "NOT_BUILT", "build_inputs", "digest", "packages"]

#: the root's own build files
BUILD_FILES = ("pyproject.toml", "meson.build", "meson.options")
#: folders inside a package that the build does not read
NOT_BUILT = frozenset({"tests", "results", "figures", "__pycache__"})


def packages(root: Path) -> list[str]:
    """The project's packages: every folder of `root` with a meson.build of its own, sorted."""
    return sorted(p.name for p in Path(root).iterdir() if (p / "meson.build").is_file())


def build_inputs(root: Path) -> list[Path]:
    """Every file the installed project is built from, in a fixed order."""
    root = Path(root)
    files = [root / name for name in BUILD_FILES if (root / name).is_file()]
    for package in packages(root):
        for path in sorted((root / package).rglob("*")):
            rel = path.relative_to(root / package)
            if path.is_file() and not NOT_BUILT & set(rel.parts) and path.suffix != ".md":
                files.append(path)
    return files


def digest(root: Path) -> str:
    """SHA-256 over the relative path and the bytes of every file of `build_inputs(root)`."""
    root = Path(root)
    h = hashlib.sha256()
    for path in build_inputs(root):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()
