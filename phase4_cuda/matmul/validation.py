"""Validation: every rung against a float64 NumPy product, before anything is timed or trusted.

`reference()` is what every rung and every epilogue must compute, in float64; `validate()` is the
one harness that checks them (the tests, the kernel check `python -m phase4_cuda` and the
benchmark all call it): fresh random inputs of odd shapes, every output poisoned with NaN before
its launch, each rung held to its precision's tolerance. Timing is benchmark.py's, after this.
"""

from __future__ import annotations

import numpy as np
from numba import cuda

from phase4_cuda.device import require_gpu
from phase4_cuda.matmul.epilogues import activate_reference
from phase4_cuda.matmul.ladder import VERSIONS, plan, precision_of, runnable
from phase4_cuda.matmul.options import Options
from phase4_cuda.matmul.precisions import PRECISIONS
from shared.testing import relative_error

__all__ = ["CHECK_SHAPES", "reference", "relative_error", "validate"]

#: shapes small enough for the simulator: 1, primes, more than one block of every version
CHECK_SHAPES = ((1, 1, 1), (17, 33, 65), (130, 67, 129))


def reference(a, b, bias=None, activation: str | None = None, mask=None) -> np.ndarray:
    """act(a @ b + bias) * (mask > 0), in float64 NumPy: what every version and epilogue must
    compute (a, b: the logical operands, already transposed where the kernel reads them so)."""
    out = np.asarray(a, np.float64) @ np.asarray(b, np.float64)
    if bias is not None:
        out += np.asarray(bias, np.float64)
    out = activate_reference(activation, out)
    if mask is not None:
        out *= np.asarray(mask) > 0
    return out


def validate(
    versions=None, shapes=CHECK_SHAPES, *, seed: int = 0, tol: float | None = None, tiles=None,
    **options,
) -> dict[tuple[str, tuple[int, int, int]], float]:  # fmt: skip
    """Check versions (default: all that this GPU runs, ladder.runnable) against `reference` on fresh random inputs of each (M, K, N),
    with every output poisoned (NaN) before its launch. `options` are plan's (options.py), with
    True for bias, mask and col_sums asking for a random bias, a mask with exact zeros, and the
    column sums checked too; `tiles` go to `plan` as they are. Returns {(version, (M, K, N)):
    relative error} and raises AssertionError on the first over `tol` (NaN included: an element
    no thread wrote); `tol` defaults to the tolerance of each version's precision (PRECISIONS)."""
    require_gpu()
    asked = Options(**options)  # (the names and the activation checked before any launch)
    rng = np.random.default_rng(seed)
    errors = {}
    for m, k, n in shapes:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        bias_v = rng.standard_normal(n, dtype=np.float32) if asked.bias else None
        mask_v = None
        if asked.mask:
            mask_v = rng.standard_normal((m, n), dtype=np.float32)
            mask_v[0, 0] = 0.0  # exactly zero is masked out, as a ReLU output of zero must be
        ref = reference(a, b, bias_v, asked.activation, mask_v)
        stored_a = np.ascontiguousarray(a.T) if asked.trans_a else a
        stored_b = np.ascontiguousarray(b.T) if asked.trans_b else b
        da, db = cuda.to_device(stored_a), cuda.to_device(stored_b)
        arrays = {
            "bias": None if bias_v is None else cuda.to_device(bias_v),
            "mask": None if mask_v is None else cuda.to_device(mask_v),
        }
        for version in versions or runnable(VERSIONS)[0]:
            dc = cuda.to_device(np.full((m, n), np.nan, dtype=np.float32))
            sums = cuda.to_device(np.full(n, np.nan, np.float32)) if asked.col_sums else None
            plan(version, da, db, dc, tiles=tiles, **{**options, **arrays, "col_sums": sums})()
            err = relative_error(dc.copy_to_host(), ref)
            if sums is not None:
                err = max(err, relative_error(sums.copy_to_host(), b.astype(np.float64).sum(0)))
            errors[(version, (m, k, n))] = err
            if not err <= (tol if tol is not None else PRECISIONS[precision_of(version)][1]):
                shown = {"tiles": str(tiles)} if tiles is not None else {}
                raise AssertionError(
                    f"{version} at (M, K, N) = {(m, k, n)} {shown | options or ''}: "
                    f"relative error {err:.2e}"
                )
    return errors
