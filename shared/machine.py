"""What this machine offers the project: Python, NumPy, numba, and a CUDA GPU to run kernels on.

    python -m shared.machine     prints it, one fact a line (every nox session starts with it)

`gpu_status()` answers "can the kernels run on a real GPU here?" without importing numba where it
is not installed: the project's CPU path (Phases 1-3, and Phase 5 on the CPU) needs no numba.
"""

from __future__ import annotations

import importlib.metadata
import sys
from dataclasses import dataclass

__all__ = ["CUDA_EXTRAS_HINT", "GpuStatus", "describe", "gpu_status"]

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


if __name__ == "__main__":
    print("\n".join(describe()))
