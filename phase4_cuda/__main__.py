"""`python -m phase4_cuda`: validate every kernel against NumPy in float64 on this machine's GPU
(or in the simulator): every version of the matmul ladder, and the fused epilogues of versions 6
and 7 that the dense layer and Phase 5 use. This is the "kernel check" step that
`nox -s mnist_gpu` runs before training."""

from __future__ import annotations

import sys

from phase4_cuda import matmul
from phase4_cuda.device import NoGPUError, gpu_name, require_gpu, simulated


def main() -> int:
    try:
        require_gpu()
    except NoGPUError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    shapes = matmul.CHECK_SHAPES[:2]  # the simulator runs one Python thread per CUDA thread
    if not simulated():
        shapes = (*matmul.CHECK_SHAPES, (1000, 1000, 1000), (1024, 784, 512), (4096, 4096, 4096))
    try:
        errors = matmul.validate(shapes=shapes)
        print(
            f"{gpu_name()}: {len(errors)} matmul checks ({len(matmul.VERSIONS)} versions), "
            f"worst relative error {max(errors.values()):.1e}"
        )
        fused = matmul.VERSIONS[-2:]
        checks = [{"bias": True, "activation": act} for act in matmul.ACTIVATIONS]
        checks += [{"trans_a": True, "col_sums": True, "split": 2}, {"trans_b": True, "mask": True}]
        epilogues = [
            err
            for options in checks
            for err in matmul.validate(fused, shapes[:2], **options).values()
        ]
    except AssertionError as e:
        print(f"error: kernel check failed: {e}", file=sys.stderr)
        return 1
    print(
        f"fused epilogues (bias and every activation, transposed operands, mask, column sums, "
        f"split-K): {len(epilogues)} checks, worst relative error {max(epilogues):.1e}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
