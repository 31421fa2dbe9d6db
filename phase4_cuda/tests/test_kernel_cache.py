"""The content-keyed kernel cache: the same sources find their entries after a reinstall (new
modification times, another folder), a changed source or an imported file's change never does,
and an unreadable entry is dropped and compiled again, never run.

The key and the entry handling need no GPU: they run here (numba's real CUDA target can be
imported and kernels decorated without a driver; the cache classes are only made off the
simulator, hence the subprocess). The round trip through real compilation needs a GPU."""

import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from phase4_cuda import kernel_cache
from phase4_cuda.kernel_cache import source_digest, source_files
from phase4_cuda.matmul import k01_naive, k07_wide

DEMO = frozenset({"kc_demo"})


def _numba_cuda_caching() -> bool:
    """numba-cuda's cache classes, which `cached` builds on, are there. numba's own `numba.cuda`
    (where numba-cuda does not install: macOS) has none; there kernels keep numba's own cache."""
    try:
        return importlib.util.find_spec("numba.cuda.core.caching") is not None
    except ModuleNotFoundError:  # no numba.cuda.core at all
        return False


needs_numba_cuda = pytest.mark.skipif(
    not _numba_cuda_caching(), reason="numba's own numba.cuda: no content-keyed cache to test"
)


@pytest.fixture(autouse=True)
def fresh_imports():
    """Each test's kc_demo is its own: forget the modules and file lists of the one before."""

    def forget():
        for name in [n for n in sys.modules if n.split(".")[0] == "kc_demo"]:
            del sys.modules[name]
        importlib.invalidate_caches()
        kernel_cache.source_files.cache_clear()

    forget()
    yield forget
    forget()


def make_demo(root: Path, scale: str = "2.0") -> Path:
    """A package kc_demo: kernels.py imports a constant from consts.py (which imports nothing)."""
    package = root / "kc_demo"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "consts.py").write_text(f"SCALE = {scale}\n")
    (package / "kernels.py").write_text(
        textwrap.dedent("""\
            from numba import cuda

            from kc_demo.consts import SCALE
            from phase4_cuda.kernel_cache import cached


            @cached
            @cuda.jit
            def scale(x):
                i = cuda.grid(1)
                if i < x.size:
                    x[i] *= SCALE
            """)
    )
    return package / "kernels.py"


def test_the_key_follows_the_imports(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    kernels = make_demo(tmp_path)
    names = [p.name for p in source_files(kernels, DEMO)]
    assert names == ["__init__.py", "consts.py", "kernels.py"]
    # the real ladder: rung 7's kernels read device functions and constants from the modules the
    # rungs share and from wide_loads.py; and importing any rung runs the package's __init__.py,
    # which imports every rung, so each rung's key covers every file of the package
    wide = {p.name for p in source_files(Path(k07_wide.__file__))}
    assert {"k07_wide.py", "thread_tiles.py", "split_k.py", "epilogues.py", "wide_loads.py"} <= wide
    package = Path(k01_naive.__file__).parent
    naive = set(source_files(Path(k01_naive.__file__)))
    assert set(package.glob("*.py")) <= naive
    names = {p.name for p in naive}
    assert {"device.py", "kernel_cache.py", "tensor_cores.py", "async_copy.py"} <= names


def test_a_reinstall_keeps_the_key_and_a_change_moves_it(tmp_path, monkeypatch, fresh_imports):
    path = list(sys.path)
    monkeypatch.setattr(sys, "path", [str(tmp_path / "a"), *path])
    kernels = make_demo(tmp_path / "a")
    before = source_digest(kernels, DEMO)
    # a reinstall: the same files copied elsewhere, with new modification times
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    copy = tmp_path / "b" / "kc_demo" / "kernels.py"
    os.utime(copy, (1, 1))
    monkeypatch.setattr(sys, "path", [str(tmp_path / "b"), *path])
    fresh_imports()
    assert source_digest(copy, DEMO) == before
    # an imported constant changes: the kernel's own file did not, its key does
    (tmp_path / "b" / "kc_demo" / "consts.py").write_text("SCALE = 3.0\n")
    fresh_imports()
    assert source_digest(copy, DEMO) != before


ENTRIES = """
import os, sys
sys.path.insert(0, sys.argv[1])
from kc_demo import kernels
cache = kernels.scale._cache
print(type(cache).__name__)
assert cache.cache_path.startswith(os.environ["XDG_CACHE_HOME"]), cache.cache_path
key, same = ("float32[::1]", "sm_90"), lambda data: data
assert cache.read_entry(key, same) is None  # nothing stored yet
cache._cache_file.save(key, {"cubin": b"..."})
assert cache.read_entry(key, same) == {"cubin": b"..."}  # stored, read back
with open(cache._cache_file._index_path, "r+b") as f:  # the index corrupted
    f.write(b"garbage")
assert cache.read_entry(key, same) is None
assert cache._cache_file._load_index() == {}  # dropped: a fresh, empty index
cache._cache_file.save(key, {"cubin": b"..."})
data = [f for f in os.listdir(cache.cache_path) if f.endswith(".nbc")]
with open(os.path.join(cache.cache_path, data[0]), "wb") as f:  # an entry cut short
    f.write(b"\\x80\\x05trunc")
assert cache.read_entry(key, same) is None
cache._cache_file.save(key, {"cubin": b"..."})
def foreign(data):
    raise TypeError("not a kernel")
assert cache.read_entry(key, foreign) is None  # readable, but not what a kernel is made of
print("ok")
"""


@needs_numba_cuda
def test_unreadable_entries_are_dropped_not_run(tmp_path):
    make_demo(tmp_path / "src")
    env = os.environ | {"NUMBA_ENABLE_CUDASIM": "0", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-P", "-c", ENTRIES, str(tmp_path / "src")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ContentCache", "ok"]
    assert done.stderr.count("kernel cache: dropped an unreadable entry") == 3


FALLBACK = """
import sys
sys.path.insert(0, sys.argv[1])
from kc_demo import kernels
print(type(kernels.scale._cache).__name__)
"""


@pytest.mark.skipif(_numba_cuda_caching(), reason="numba-cuda's classes are there: tested above")
def test_without_numba_cudas_classes_a_kernel_keeps_numbas_own_cache(tmp_path):
    make_demo(tmp_path / "src")
    env = os.environ | {"NUMBA_ENABLE_CUDASIM": "0", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-P", "-c", FALLBACK, str(tmp_path / "src")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["NullCache"]  # `cuda.jit` without cache=True
    assert not (tmp_path / "cache").exists()  # nothing made in the user's cache folder


RUN = """
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from numba import cuda
from kc_demo import kernels
x = cuda.to_device(np.ones(5, np.float32))
kernels.scale[1, 32](x)
stats = kernels.scale.stats
print(x.copy_to_host()[0], sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
"""


@pytest.mark.gpu
def test_compiled_kernels_come_back_and_stale_ones_never_run(tmp_path):
    src = tmp_path / "src"
    kernels = make_demo(src)
    env = os.environ | {"NUMBA_ENABLE_CUDASIM": "0", "XDG_CACHE_HOME": str(tmp_path / "cache")}

    def run() -> tuple[float, int, int]:
        done = subprocess.run(
            [sys.executable, "-P", "-c", RUN, str(src)], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        value, hits, misses = done.stdout.split()
        return float(value), int(hits), int(misses)

    assert run() == (2.0, 0, 1)  # compiled
    assert run() == (2.0, 1, 0)  # from the cache
    os.utime(kernels, (1, 1))  # what a reinstall does to the file
    assert run() == (2.0, 1, 0)
    (src / "kc_demo" / "consts.py").write_text("SCALE = 3.0\n")
    assert run() == (3.0, 0, 1)  # an imported constant changed: compiled again
    for entry in (tmp_path / "cache").rglob("*.nbc"):
        entry.write_bytes(b"\x80\x05trunc")
    assert run() == (3.0, 0, 1)  # an unreadable entry: compiled again, never run


CRAFTED = """
import os, pickle, sys
sys.path.insert(0, sys.argv[1])
marker, how = sys.argv[2], sys.argv[3]
import numba
from kc_demo import kernels
cache = kernels.scale._cache
folder = cache.cache_path
print(oct(os.stat(folder).st_mode & 0o777))  # made for the user alone


class Payload:  # what an attacker's index holds: unpickling it writes the marker
    def __reduce__(self):
        return (open, (marker, "w"))


with open(cache._cache_file._index_path, "wb") as f:
    pickle.dump(numba.__version__, f)
    f.write(pickle.dumps((cache._cache_file._source_stamp, Payload())))
if how == "group-writable":
    os.chmod(folder, 0o775)
elif how == "loose-parent":
    os.chmod(os.path.dirname(folder), 0o777)
elif how == "foreign":
    os.chown(folder, 4242, 4242)
key = ("float32[::1]", "sm_90")
assert cache.read_entry(key, lambda data: data) is None
cache.save_overload(key, {"cubin": b"..."})  # numba's save reads the index first: refused too
assert cache.read_entry(key, lambda data: data) is None
print("marker" if os.path.exists(marker) else "no-marker")
"""


@needs_numba_cuda
@pytest.mark.parametrize("how", ["group-writable", "loose-parent", "foreign"])
def test_a_crafted_index_in_a_folder_others_could_write_is_never_unpickled(tmp_path, how):
    if how == "foreign" and os.getuid() != 0:
        pytest.skip("making a folder another user's needs root")
    make_demo(tmp_path / "src")
    marker = tmp_path / "marker"
    env = os.environ | {"NUMBA_ENABLE_CUDASIM": "0", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-P", "-c", CRAFTED, str(tmp_path / "src"), str(marker), how],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0o700", "no-marker"]
    assert not marker.exists()
    lines = [line for line in done.stderr.splitlines() if "kernel cache" in line]
    assert len(lines) == 1, done.stderr  # one line for the folder, however often it is asked
    assert "compiling as if it were empty" in lines[0]
    why = {"group-writable": "writable by group or others (mode 0775)",
           "loose-parent": "writable by group or others (mode 0777)",
           "foreign": "belongs to user 4242"}[how]  # fmt: skip
    assert why in lines[0]


@needs_numba_cuda
def test_the_crafted_index_does_run_when_trusted_so_the_test_above_means_something(tmp_path):
    make_demo(tmp_path / "src")
    marker = tmp_path / "marker"
    env = os.environ | {"NUMBA_ENABLE_CUDASIM": "0", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-P", "-c", CRAFTED, str(tmp_path / "src"), str(marker), "private"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    # the user's own folder is trusted: the payload ran (and the entry was then dropped)
    assert marker.exists(), done.stderr
