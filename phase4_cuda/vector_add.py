"""Vector addition with a grid-stride loop: any length, any grid size.

    python -m phase4_cuda.vector_add [--n 1000003] [--threads 256] [--no-guard]

Each thread starts at its global index and strides by the total number of threads in the grid,
so a fixed grid covers an array of any length, and consecutive threads touch consecutive
elements (coalesced accesses). Checked against NumPy.

`--no-guard` is a lesson demo, deliberately wrong: it launches `vector_add_unguarded`, one thread
per element with no `if i < n` guard, on a grid rounded up to whole blocks. numba's simulator
checks every index and raises IndexError; a real GPU checks none, and the extra threads read and
write past the end without a word (here into spare room the demo allocates, so nothing else is hit).
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np
from numba import cuda

from phase4_cuda.device import NoGPUError, as_device, configure, is_device_array, require_gpu


@cuda.jit(fastmath=True)
def vector_add_kernel(x, y, out):
    # x, y, out: (n,)
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    for i in range(start, out.shape[0], stride):
        out[i] = x[i] + y[i]


@cuda.jit
def vector_add_unguarded(x, y, out):
    # LESSON DEMO, a deliberate bug: one thread per element and no `if i < out.shape[0]`, so
    # the threads of the last block that fall past the end index out of bounds.
    # x, y, out: (n,)
    i = cuda.grid(1)
    out[i] = x[i] + y[i]


def unguarded_demo(n: int, threads: int) -> int:
    """Launch `vector_add_unguarded` on ceil(n / threads) blocks and report what happened."""
    blocks = math.ceil(n / threads)
    room = blocks * threads  # one element per thread: the threads past n write into the room
    x = cuda.to_device(np.arange(room, dtype=np.float32))
    out = cuda.to_device(np.full(room, np.nan, dtype=np.float32))
    print(f"{blocks} blocks x {threads} threads = {room} threads for {n} elements (no guard)")
    try:
        # views of length n; `configure` silences numba's hint about so small a grid
        configure(vector_add_unguarded, blocks, threads)(x[:n], x[:n], out[:n])
        cuda.synchronize()
    except IndexError as e:  # only the simulator checks bounds
        print(f"caught: IndexError: {e}")
        return 0
    past = int(np.count_nonzero(~np.isnan(out.copy_to_host()[n:])))
    print(f"no error: {past} of the {room - n} threads past the end wrote beyond out[{n - 1}]")
    return 0


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
    parser.add_argument("--threads", type=int, default=256, help="threads per block")
    parser.add_argument(
        "--no-guard",
        action="store_true",
        help="lesson demo: launch a kernel WITHOUT its bounds guard (a deliberate bug)",
    )
    args = parser.parse_args(argv)
    if args.n < 1 or not 1 <= args.threads <= 1024:
        parser.error("use --n >= 1 and 1-1024 threads per block")
    try:
        require_gpu()
    except NoGPUError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.no_guard:
        return unguarded_demo(args.n, args.threads)
    rng = np.random.default_rng(0)
    x, y = (
        rng.standard_normal(args.n, dtype=np.float32),
        rng.standard_normal(args.n, dtype=np.float32),
    )
    got = vector_add(x, y, threads=args.threads)
    ok = np.array_equal(got, x + y)
    print(f"vector_add of {args.n:,} float32: {'matches NumPy' if ok else 'DIFFERS from NumPy'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
