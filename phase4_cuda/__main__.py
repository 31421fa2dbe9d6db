"""`python -m phase4_cuda`: validate every kernel against NumPy in float64 on this machine's GPU
(or in the simulator), then print what the fastest version reaches. This is the "kernel check"
step that `nox -s mnist_gpu` runs before training."""

from __future__ import annotations

import sys

import numpy as np

from phase4_cuda import dense, matmul
from phase4_cuda.device import NoGPUError, gpu_name, require_gpu, simulated


def main() -> int:
    try:
        require_gpu()
    except NoGPUError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    shapes = ((1, 1, 1), (17, 33, 65))  # the simulator runs one Python thread per CUDA thread
    if not simulated():
        shapes += ((67, 131, 129), (1000, 1000, 1000), (1024, 784, 512), (4096, 4096, 4096))
    errors = matmul.validate(shapes=shapes)
    worst = max(errors.values())
    print(
        f"{gpu_name()}: {len(errors)} matmul checks ({len(matmul.VERSIONS)} versions), worst relative error {worst:.1e}"
    )
    rng = np.random.default_rng(0)
    x = rng.standard_normal((33, 20), dtype=np.float32)
    w = rng.standard_normal((20, 17), dtype=np.float32)
    b = rng.standard_normal(17, dtype=np.float32)
    ref = np.maximum(x.astype(np.float64) @ w + b, 0)
    err = matmul.relative_error(dense.dense_forward(x, w, b, "relu"), ref)
    print(f"fused dense + ReLU: relative error {err:.1e}")
    return 0 if err < 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
