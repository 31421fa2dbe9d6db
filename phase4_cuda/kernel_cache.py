"""An on-disk cache for the project's compiled kernels that survives a reinstall and never runs a
stale or unreadable entry.

numba-cuda's own cache (`cuda.jit(cache=True)`) keys a kernel's entries on its source file's
modification time and size. pip stamps every file it installs with the time of the install, so
after each reinstall of the project every kernel compiled again (about 9 s of the main job on an
H100). And numba's key does not see the other files a kernel depends on: a device function or a
constant imported from another module can change without the entry noticing.

`cached(kernel)` gives a `cuda.jit` kernel a cache keyed on content instead: the SHA-256 of its
own source file and of every module of this project (or of the kernel's own package) that the
file imports, directly or through others (found by reading their import statements). Entries live in the user's cache folder,
`kernels/` under `shared.files.cache_dir()` (`$XDG_CACHE_HOME/nn-foundations`, by default
`~/.cache/nn-foundations`), in one folder per content digest: the same sources find their
kernels again after any reinstall, and a changed source never finds an old entry. Inside a
folder, numba's own index key still tells apart signatures, closures, GPU architectures and
numba-cuda versions. An entry that cannot be read back (cut short, corrupted, written by
something else) is never run: it is dropped and the kernel compiled again.

numba's index and entries are pickles, and unpickling runs what a file asks for: so the folders
are made for the user alone (0700), and a folder that another user owns or could have written (a
shared `XDG_CACHE_HOME`, a umask of 002, a tree someone else made) is never read or written: one
line says why, and the kernels compile as if the cache were empty (`shared.private`).

Under numba's CUDA simulator nothing is compiled, so `cached` returns the kernel unchanged.
This leans on numba-cuda's cache classes (`numba.cuda.core.caching`, `numba.cuda.dispatcher`),
which the project pins (numba-cuda 0.30); if they move, `cached` falls back to no disk cache.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import logging
import os
from functools import cache
from pathlib import Path

from phase4_cuda.device import simulated
from shared.files import cache_dir
from shared.private import distrust, make_private

__all__ = ["cache_folder", "cached", "private_cache_folder", "source_digest", "source_files"]

log = logging.getLogger(__name__)

#: the top-level packages whose modules count as the project's own
PROJECT_PACKAGES = frozenset(
    {"shared", "phase1_python", "phase2_numpy", "phase3_c", "phase4_cuda", "phase5_training"}
)


def cache_folder() -> Path:
    """Where compiled kernels are kept: one folder per content digest below it."""
    return cache_dir() / "kernels"


def private_cache_folder(folder: Path) -> Path | None:
    """`folder` (below `cache_folder()`), made for the user alone where it is missing; None, after
    a line that says why (once per folder), where it may not be trusted: then nothing in it may be
    read, let alone unpickled."""
    try:
        make_private(folder, cache_dir())
    except OSError as e:
        return _refused(folder, f"it cannot be made ({e.strerror or e})")
    why = distrust(folder, cache_dir())
    return folder if why is None else _refused(folder, why)


@cache  # one line a folder, not one a kernel
def _refused(folder: Path, why: str) -> None:
    log.warning("kernel cache: not using %s: %s; compiling as if it were empty", folder, why)


def _imported_modules(path: Path, package: str, packages: frozenset[str]) -> set[str]:
    """The modules of `packages` that the source file `path` (of package `package`) imports."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from .mod import y
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    # importing a.b.c runs a/__init__.py and a/b/__init__.py too
    names |= {n.rsplit(".", depth)[0] for n in names for depth in range(1, n.count(".") + 1)}
    return {n for n in names if n.split(".")[0] in packages}


def _module_file(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


@cache
def source_files(path: Path, packages: frozenset[str] = PROJECT_PACKAGES) -> tuple[Path, ...]:
    """`path` and every source file of `packages` that it imports, transitively, sorted."""
    seen: dict[Path, None] = {}
    todo = [(path, _package_of(path))]
    while todo:
        file, package = todo.pop()
        if file in seen:
            continue
        seen[file] = None
        for name in _imported_modules(file, package, packages):
            found = _module_file(name)
            if found is not None and found not in seen:
                todo.append(
                    (found, name if found.name == "__init__.py" else name.rpartition(".")[0])
                )
    return tuple(sorted(seen))


def _package_of(path: Path) -> str:
    """The dotted package a project source file belongs to, from its folders."""
    parts = [path.parent.name]
    parent = path.parent.parent
    while (parent / "__init__.py").exists():
        parts.insert(0, parent.name)
        parent = parent.parent
    return ".".join(parts)


def source_digest(path: Path, packages: frozenset[str] = PROJECT_PACKAGES) -> str:
    """SHA-256 of the content of `path` and of every project file it imports (names and bytes:
    never modification times or folders, so a reinstall of the same sources gives the same)."""
    h = hashlib.sha256()
    for file in source_files(Path(path), packages):
        h.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    return h.hexdigest()


def _make_cache_class():
    """The cache class, built on numba-cuda's, or None where those classes are not there."""
    try:
        from numba.cuda.core.caching import _CacheLocator
        from numba.cuda.dispatcher import CUDACache, CUDACacheImpl
    except ImportError:  # another numba-cuda layout: run without a disk cache
        return None

    class ContentLocator(_CacheLocator):
        """Entries in cache_folder()/<digest of the sources>, stamped with that digest."""

        def __init__(self, py_func, py_file):
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            # the project's packages, and the kernel's own (a learner's module outside them)
            packages = PROJECT_PACKAGES | {py_func.__module__.split(".")[0]}
            self._digest = source_digest(Path(py_file), packages)
            self._cache_path = str(cache_folder() / self._digest[:32])

        def get_cache_path(self):
            return self._cache_path

        def ensure_cache_path(self):
            # numba's makes the folders with the umask's mode: a folder for the user alone here
            # (whether it can be trusted is checked before each read, in ContentCache)
            make_private(Path(self._cache_path), cache_dir())
            super().ensure_cache_path()

        def get_source_stamp(self):
            return self._digest

        def get_disambiguator(self):
            return str(self._lineno)

        @classmethod
        def from_function(cls, py_func, py_file):
            if not os.path.exists(py_file):
                return None
            self = cls(py_func, py_file)
            try:
                self.ensure_cache_path()
            except OSError:  # no writable cache folder: numba then compiles every time
                return None
            return self

    class ContentCacheImpl(CUDACacheImpl):
        _locator_classes = (ContentLocator,)

    class ContentCache(CUDACache):
        _impl_class = ContentCacheImpl

        def _load_overload(self, sig, target_context):
            if not self._enabled:
                return None
            key = self._index_key(sig, target_context.codegen())
            return self.read_entry(key, lambda data: self._impl.rebuild(target_context, data))

        def _trusted(self) -> bool:
            """Whether the folder passes shared.private's check: nothing is unpickled (numba
            reads the index before it saves, too) from a folder that does not."""
            return private_cache_folder(Path(self._cache_path)) is not None

        def read_entry(self, key, rebuild):
            """The entry stored under `key`, rebuilt by `rebuild(data)`, or None. An entry that
            cannot be read or rebuilt (cut short, corrupted, foreign) is dropped, never run; a
            folder that may not be trusted is not read at all."""
            if not self._trusted():
                return None
            try:
                data = self._cache_file.load(key)
                return None if data is None else rebuild(data)
            except Exception as e:
                log.warning(
                    "kernel cache: dropped an unreadable entry in %s (%s)", self._cache_path, e
                )
                self._drop()
                return None

        def save_overload(self, sig, data):
            if not self._trusted():
                return
            try:
                super().save_overload(sig, data)
            except Exception as e:  # e.g. an index that cannot be read: start it afresh
                log.warning("kernel cache: could not save to %s (%s)", self._cache_path, e)
                self._drop()

        def _drop(self):
            try:
                self.flush()  # an empty index: every old entry of this kernel is forgotten
            except OSError:
                pass

    return ContentCache


def cached(kernel):
    """Give a `cuda.jit` kernel (not yet compiled) the content-keyed disk cache; return it."""
    if simulated():
        return kernel
    cls = _cache_class()
    if cls is None:
        return kernel
    try:
        kernel._cache = cls(kernel.py_func)
    except (OSError, RuntimeError) as e:  # no usable cache folder: compile every time
        log.warning("no kernel cache for %s: %s", kernel.py_func.__qualname__, e)
    return kernel


@cache
def _cache_class():
    return _make_cache_class()
