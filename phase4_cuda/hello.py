"""Hello from the GPU: every thread prints its coordinates in the grid.

    python -m phase4_cuda.hello [--blocks 2] [--threads 4]

The first lesson of CUDA: a kernel runs once per thread; threads are grouped in blocks, blocks in
a grid, and each thread finds its place through cuda.blockIdx, cuda.blockDim and cuda.threadIdx.
The print order is up to the hardware: blocks run in any order.
"""

from __future__ import annotations

import argparse
import sys

from numba import cuda

from phase4_cuda.device import NoGPUError, gpu_name, require_gpu


@cuda.jit
def hello():
    i = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    print("block", cuda.blockIdx.x, "thread", cuda.threadIdx.x, "-> global index", i)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)
    if not (1 <= args.blocks <= 64 and 1 <= args.threads <= 1024):
        parser.error("use 1-64 blocks of 1-1024 threads")
    try:
        require_gpu()
    except NoGPUError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{args.blocks} blocks x {args.threads} threads on {gpu_name()}:")
    sys.stdout.flush()
    hello[args.blocks, args.threads]()
    cuda.synchronize()
    return 0


if __name__ == "__main__":
    sys.exit(main())
