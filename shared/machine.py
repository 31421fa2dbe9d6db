"""What this machine offers the project: Python, NumPy, numba, and a CUDA GPU to run kernels on;
and what a result measured here depends on (the CPU, NumPy's OpenBLAS and its settings).

    python -m shared.machine     prints it, one fact a line (every nox session starts with it)

`gpu_status()` answers "can the kernels run on a real GPU here?" without importing numba where it
is not installed: the project's CPU path (Phases 1-3, and Phase 5 on the CPU) needs no numba.
`machine_info()` is the record a benchmark or a training run keeps beside its numbers. Neither
measures anything (timing and load are in shared/timing.py and shared/load_monitor.py).
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import sys
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CUDA_EXTRAS_HINT", "OPENBLAS_SETTINGS", "GpuStatus", "describe", "gpu_status", "machine_info",
    "numpy_openblas", "openblas_warning",
]  # fmt: skip

#: how to get numba-cuda, for messages that say why there is no GPU support
CUDA_EXTRAS_HINT = (
    "install the project with the `cuda12` extra (CUDA 12 toolkit wheels), `cuda13`, or `cuda` "
    "(the system's CUDA toolkit), e.g. pip install '.[cuda12]'"
)


@dataclass(frozen=True)
class GpuStatus:
    """usable: kernels can run on a real GPU; summary: the GPU's name, or why not; installed:
    numba-cuda can be imported; simulated: its CUDA simulator is on; fix: what would change the
    answer, where something can."""

    usable: bool
    summary: str
    installed: bool = True
    simulated: bool = False
    fix: str = ""


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def gpu_status() -> GpuStatus:
    """Whether numba-cuda is installed, the simulator off, and a CUDA GPU visible."""
    try:
        from numba import config
    except ImportError:
        config = None
    if config is None or _version("numba-cuda") is None:
        return GpuStatus(
            False, "numba-cuda is not installed", installed=False, fix=CUDA_EXTRAS_HINT
        )
    from numba import cuda

    if config.ENABLE_CUDASIM:
        return GpuStatus(
            False,
            "numba's CUDA simulator is on: NUMBA_ENABLE_CUDASIM=1",
            simulated=True,
            fix="unset it",
        )
    if not cuda.is_available():
        return GpuStatus(False, "numba.cuda.is_available() is False")
    name = cuda.get_current_device().name
    return GpuStatus(True, name.decode() if isinstance(name, bytes) else str(name))


def describe() -> list[str]:
    """The lines `python -m shared.machine` prints."""
    import numpy

    versions = [f"Python {sys.version.split()[0]}", f"NumPy {numpy.__version__}"]
    for distribution in ("numba", "numba-cuda"):
        version = _version(distribution)
        versions.append(f"{distribution} {version}" if version else f"no {distribution}")
    gpu = gpu_status()
    return [" | ".join(versions), f"CUDA GPU: {'yes' if gpu.usable else 'none'} ({gpu.summary})"]


# -- what a result depends on ----------------------------------------------------------------
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a result depends on: CPU, cores, Python, NumPy and (when imported) numba and the GPU."""
    info: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "threads_env": {
            k: os.environ[k]
            for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
            if k in os.environ
        },
    }
    try:
        import numpy

        info["numpy"] = numpy.__version__
    except ImportError:
        pass
    else:
        info["openblas"] = numpy_openblas()
    numba = sys.modules.get("numba")
    if numba is not None:
        info["numba"] = numba.__version__
    info.update(extra or {})
    return info


#: environment variables that change which kernels OpenBLAS runs
OPENBLAS_SETTINGS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_VERBOSE")


def numpy_openblas() -> dict[str, Any]:
    """The OpenBLAS inside NumPy's wheel, as it runs now: the kernel family it picked for this
    CPU (`corename`, e.g. SkylakeX or Haswell), its build string, and the environment variables
    that steer it. Empty where NumPy uses another BLAS (read from the library NumPy loaded)."""
    import ctypes
    import glob

    import numpy

    libs = glob.glob(os.path.join(os.path.dirname(numpy.__file__) + ".libs", "*openblas*.so*"))
    info: dict[str, Any] = {}
    for path in libs:
        try:
            lib = ctypes.CDLL(path)  # already loaded by NumPy: the same copy, the same state
        except OSError:
            continue
        for suffix in ("64_", "_64", "64", ""):
            corename = getattr(lib, f"scipy_openblas_get_corename{suffix}", None)
            corename = corename or getattr(lib, f"openblas_get_corename{suffix}", None)
            config = getattr(lib, f"scipy_openblas_get_config{suffix}", None)
            config = config or getattr(lib, f"openblas_get_config{suffix}", None)
            if corename is not None:
                corename.restype = ctypes.c_char_p
                info["corename"] = corename().decode()
                if config is not None:
                    config.restype = ctypes.c_char_p
                    info["config"] = config().decode().strip()
                break
    env = {k: os.environ[k] for k in OPENBLAS_SETTINGS if k in os.environ}
    if info or env:
        info["env"] = env
    return info


def openblas_warning(info: dict[str, Any]) -> str | None:
    """A warning when the environment holds NumPy's OpenBLAS to other kernels than it would pick
    for this CPU (OPENBLAS_CORETYPE): then NumPy, the peer, is not at its best."""
    forced = info.get("env", {}).get("OPENBLAS_CORETYPE")
    if not forced:
        return None
    return (
        f"OPENBLAS_CORETYPE={forced} holds NumPy's OpenBLAS to its {info.get('corename', forced)} "
        "kernels, which may be slower than the ones it would pick for this CPU: unset it "
        "(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ...) to compare against NumPy at its best"
    )


if __name__ == "__main__":
    print("\n".join(describe()))
