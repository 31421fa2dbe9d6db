"""The precisions a product can be computed in, the one list of them in Phase 4 (the kernel check
and the benchmark read it): each with the fastest verified rung for it and the largest relative
error it may have. Which rung computes in which precision is said by each rung (ladder.py).
"""

from __future__ import annotations

from numba import cuda

from phase4_cuda.device import simulated

__all__ = ["DEFAULT_VERSION", "PRECISIONS", "TOLERANCE", "check_precision", "require_precision"]

#: The version `matmul()` runs: the fastest float32 rung at every size measured (README.md).
DEFAULT_VERSION = "wide"

#: The precisions a product can be asked for, each with the fastest verified version for it and
#: the largest relative error (||C - ref|| / ||ref|| against float64) it may have. fp32: float32
#: throughout. tf32: inputs rounded to TF32 (unit roundoff 2^-11 = 4.9e-4), products summed in
#: float32. Each rounded input carries a relative error of at most u, a product of two at most
#: about 2u, and those errors, random in sign, do not grow with K: the norm-wise error measures
#: 5-7e-4 on random inputs. The tolerance is 4u = 2.0e-3, room for 3x that and no more: a wrong
#: fragment or a missing K step gives errors of order 1. bf16: the same with 8 mantissa bits.
PRECISIONS = {
    "fp32": (DEFAULT_VERSION, 1e-5),
    "tf32": ("tensor_tf32_async", 4 * 2.0**-11),
    "bf16": ("tensor_bf16_async", 4 * 2.0**-8),
}
#: the largest relative error (norm-wise, ||C - ref|| / ||ref||) a float32 product may have
TOLERANCE = PRECISIONS["fp32"][1]


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(
            f"unknown precision {precision!r}; this project's kernels compute in "
            f"{', '.join(PRECISIONS)}"
        )


def require_precision(precision: str) -> None:
    """ValueError, one line, unless `precision` is known and this GPU can compute in it (the
    tensor-core precisions need mma.sync: compute capability 8.0 or newer; the simulator has
    the stand-ins)."""
    check_precision(precision)
    if precision != "fp32" and not simulated():
        major, minor = cuda.get_current_device().compute_capability
        if (major, minor) < (8, 0):
            raise ValueError(
                f"{precision} needs the mma.sync tensor cores of compute capability 8.0 or newer; "
                f"this GPU is {major}.{minor}: use precision='fp32'"
            )
