"""The precisions a product can be computed in, the one list of them in Phase 4 (the kernel check
and the benchmark read it): each with the fastest verified rung for it, the largest relative
error it may have and the compute capability it needs; and which of them this GPU runs. Which rung
computes in which precision is said by each rung (ladder.py).
"""

from __future__ import annotations

import os

from numba import cuda

from phase4_cuda.device import simulated

__all__ = [
    "CC_OVERRIDE",
    "DEFAULT_VERSION",
    "NEEDS_CC",
    "PRECISIONS",
    "TOLERANCE",
    "check_precision",
    "compute_capability",
    "lacks",
    "require_precision",
    "supported_precisions",
    "unsupported",
]

#: The version `matmul()` runs: the fastest float32 rung at every size measured (README.md).
DEFAULT_VERSION = "wide"

#: The precisions a product can be asked for, each with the version that computes in it on every
#: GPU that has it, with the training step's options (`matmul()` may run a faster one for the GPU
#: and size: ladder.FASTEST), and the largest relative error (||C - ref|| / ||ref|| against float64) it may have. fp32: float32
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

#: The compute capability each precision needs: float32 runs on any GPU numba-cuda supports; TF32
#: and BF16 on the tensor cores through mma.sync with those types, fed by cp.async copies, all
#: three from 8.0 (Ampere) on. A Turing GPU (7.5: Colab's T4, the RTX 20 series, the GTX 16
#: series) has tensor cores for FP16 only. The one table of it: the kernel check, the benchmarks,
#: the tests and the trainers ask `unsupported` which to leave out. One more entry is not a
#: precision: Hopper's wgmma (wgmma.py, rungs 12-16 of the ladder) exists only on 9.0 itself,
#: compiled for sm_90a, the "a" marking an architecture-specific instruction that no later GPU
#: (10.0 and on) has; such an entry needs that capability exactly, not "or newer".
NEEDS_CC = {"fp32": (0, 0), "tf32": (8, 0), "bf16": (8, 0), "wgmma": (9, 0, "a")}
#: an environment variable that makes the GPU (or the simulator) read as another compute
#: capability, "7.5" say, to rehearse an older GPU; only one lower than the GPU's own is honest
CC_OVERRIDE = "NNF_COMPUTE_CAPABILITY"


def compute_capability() -> tuple[int, int] | None:
    """This GPU's compute capability (NNF_COMPUTE_CAPABILITY's where set), or None in the
    simulator without that variable: its stand-ins compute in every precision."""
    text = os.environ.get(CC_OVERRIDE, "").strip()
    if text:
        major, dot, minor = text.partition(".")
        if not (major.isdigit() and minor.isdigit() and dot):
            raise ValueError(f"{CC_OVERRIDE}={text!r}: expected MAJOR.MINOR, e.g. 7.5")
        return int(major), int(minor)
    if simulated():
        return None
    return tuple(cuda.get_current_device().compute_capability)


def lacks(cc: tuple[int, int], needs: tuple) -> bool:
    """Whether a GPU of compute capability `cc` lacks what an entry of NEEDS_CC needs: that
    capability or newer, or exactly that one for an architecture-specific entry (9, 0, "a")."""
    return tuple(cc[:2]) != needs[:2] if len(needs) > 2 else tuple(cc[:2]) < needs


def unsupported(*precisions: str) -> str | None:
    """None where this GPU computes in every one of `precisions` (or has the instructions of
    another key of NEEDS_CC: "wgmma"), else the one line that says which it does not and why."""
    for precision in precisions:
        if precision not in NEEDS_CC:
            check_precision(precision)
    cc = compute_capability()
    missing = [p for p in precisions if cc is not None and lacks(cc, NEEDS_CC[p])]
    if not missing:
        return None
    clauses = []
    for needs in sorted({NEEDS_CC[p] for p in missing}, key=lambda n: n[:2]):
        names = [p for p in missing if NEEDS_CC[p] == needs]
        verb = f"{' and '.join(names)} need{'s' if len(names) == 1 else ''}"
        if len(needs) > 2:  # architecture-specific
            clauses.append(f"{verb} compute capability {needs[0]}.{needs[1]} exactly "
                           f"(sm_{needs[0]}{needs[1]}{needs[2]}: no other GPU has its "
                           "instructions)")  # fmt: skip
        else:
            clauses.append(f"{verb} the tensor cores' mma.sync and cp.async of compute "
                           f"capability {needs[0]}.{needs[1]} or newer")  # fmt: skip
    return f"{'; '.join(clauses)}; this GPU is {cc[0]}.{cc[1]}"


def supported_precisions() -> list[str]:
    """The precisions this GPU computes in, in the order of PRECISIONS."""
    return [p for p in PRECISIONS if unsupported(p) is None]


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(
            f"unknown precision {precision!r}; this project's kernels compute in "
            f"{', '.join(PRECISIONS)}"
        )


def require_precision(precision: str) -> None:
    """ValueError, one line, unless `precision` is known and this GPU can compute in it
    (NEEDS_CC; the simulator has the stand-ins)."""
    why = unsupported(precision)
    if why is not None:
        raise ValueError(f"{why}: use precision='fp32'")
