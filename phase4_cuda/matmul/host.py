"""`matmul(a, b)`: the product on the GPU called from Python, the host side of every rung. It
checks what comes in, moves NumPy inputs to the device, plans the chosen rung's launch
(ladder.plan) and launches it, and brings the result back only for NumPy input. It leaves the
kernels to their files and the options of the training step to `plan`.
"""

from __future__ import annotations

import numpy as np
from numba import cuda

from phase4_cuda.device import as_device, is_device_array, require_gpu
from phase4_cuda.matmul.ladder import VERSIONS, fastest, plan, precision_of
from phase4_cuda.matmul.precisions import require_precision

__all__ = ["matmul"]


def matmul(a, b, out=None, version: str | None = None, precision: str = "fp32"):
    """C = A @ B on the GPU, float32 in and out.

    a: (M, K), b: (K, N); out: optional (M, N) array to write into and return: a float32 device
    array (written by the kernel), or a writable floating-point NumPy array (the result is copied
    into it; any other `out` is refused, never ignored). NumPy inputs
    give a NumPy result; device arrays give a device array and stay on the GPU (see
    `phase4_cuda.device` for what is accepted: float64 is converted to float32 first, for every
    precision). `precision` is 'fp32' (the default), 'tf32' or 'bf16' (the tensor cores: inputs
    rounded to 10 or 8 mantissa bits, about 3 or 2 decimal digits, sums in float32; see
    PRECISIONS); `version` picks a rung of the ladder instead of the fastest one for it on this
    GPU at this size (ladder.FASTEST: the wgmma rungs on Hopper).
    """
    require_gpu()
    require_precision(precision)
    if version is not None and version not in VERSIONS:
        raise ValueError(f"unknown version {version!r}; expected one of {list(VERSIONS)}")
    if version is not None and precision_of(version) != precision:
        raise ValueError(
            f"version {version!r} computes in {precision_of(version)}, not {precision}"
        )
    on_device = is_device_array(a) or is_device_array(b)
    da, db = as_device(a, "a", 2), as_device(b, "b", 2)
    (m, k), (k2, n) = da.shape, db.shape
    if k != k2:
        raise ValueError(f"matmul: shapes ({m}, {k}) and ({k2}, {n}) are not aligned ({k} != {k2})")
    version = version or fastest(precision, m, n)
    host_out = out if isinstance(out, np.ndarray) else None
    if host_out is not None:
        if host_out.shape != (m, n):
            raise ValueError(f"out has shape {host_out.shape}, expected {(m, n)}")
        if host_out.dtype.kind != "f" or not host_out.flags.writeable:
            raise TypeError(
                f"out: a NumPy out must be a writable float array, got {host_out.dtype}"
            )
    if out is None or host_out is not None:
        dc = cuda.device_array((m, n), dtype=np.float32)
    else:
        dc = as_device(out, "out", 2)
        if dc.shape != (m, n):
            raise ValueError(f"out has shape {dc.shape}, expected {(m, n)}")
        on_device = on_device or is_device_array(out)
    plan(version, da, db, dc)()
    if host_out is not None:
        host_out[...] = dc.copy_to_host()
        return host_out
    if on_device:
        return dc
    return dc.copy_to_host()
