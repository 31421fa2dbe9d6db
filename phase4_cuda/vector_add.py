"""Vector addition with a grid-stride loop: any length, any grid size.

    python -m phase4_cuda.vector_add [--n 10000000]

Each thread starts at its global index and strides by the total number of threads in the grid,
so a fixed grid covers an array of any length, and consecutive threads touch consecutive
elements (coalesced accesses). Checked against NumPy; timed against NumPy with --n.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from numba import cuda

from phase4_cuda.device import NoGPUError, as_device, is_device_array, require_gpu


@cuda.jit(fastmath=True)
def vector_add_kernel(x, y, out):
    # x, y, out: (n,)
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    for i in range(start, out.shape[0], stride):
        out[i] = x[i] + y[i]


def vector_add(x, y, out=None, blocks: int | None = None, threads: int = 256):
    """out = x + y for 1-D arrays of one length (NumPy in, NumPy out; device in, device out)."""
    require_gpu()
    on_device = is_device_array(x) or is_device_array(y)
    dx, dy = as_device(x, "x", 1), as_device(y, "y", 1)
    if dx.shape != dy.shape:
        raise ValueError(f"vector_add: lengths {dx.shape[0]} and {dy.shape[0]} differ")
    dout = cuda.device_array_like(dx) if out is None else as_device(out, "out", 1)
    if dout.shape != dx.shape:
        raise ValueError(f"out has length {dout.shape[0]}, expected {dx.shape[0]}")
    # Enough blocks to fill the GPU a few times over; the stride loop covers the rest.
    blocks = blocks or min(1024, (dx.shape[0] + threads - 1) // threads)
    vector_add_kernel[blocks, threads](dx, dy, dout)
    return dout if on_device or is_device_array(out) else dout.copy_to_host()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_003)
    args = parser.parse_args(argv)
    try:
        require_gpu()
    except NoGPUError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(0)
    x, y = (
        rng.standard_normal(args.n, dtype=np.float32),
        rng.standard_normal(args.n, dtype=np.float32),
    )
    got = vector_add(x, y)
    ok = np.array_equal(got, x + y)
    print(f"vector_add of {args.n:,} float32: {'matches NumPy' if ok else 'DIFFERS from NumPy'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
