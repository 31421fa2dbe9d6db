"""`python -m phase4_cuda`: validate every kernel against NumPy in float64 on this machine's GPU
(or in the simulator): every version of the matmul ladder, and the fused epilogues of versions 6
and 7 that the dense layer and Phase 5 use. This is the "kernel check" step that
`nox -s mnist_gpu` runs before training.

    python -m phase4_cuda [--versions naive wide ...] [--shape M K N]

With no options it checks every version on the default shapes. `--versions` and `--shape` make
a quick check (the simulator runs one Python thread per CUDA thread): the fused epilogues are
checked only for the versions 6 and 7 among those named."""

from __future__ import annotations

import argparse
import sys

from phase4_cuda import matmul
from phase4_cuda.device import NoGPUError, gpu_name, require_gpu, simulated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--versions", nargs="+", choices=matmul.VERSIONS, default=list(matmul.VERSIONS),
        help="the versions to check (default: all)",
    )  # fmt: skip
    parser.add_argument(
        "--shape", type=int, nargs=3, metavar=("M", "K", "N"),
        help="check this one (M, K) @ (K, N) product instead of the default shapes",
    )  # fmt: skip
    args = parser.parse_args([] if argv is None else argv)
    if args.shape and min(args.shape) < 1:
        parser.error(f"--shape needs positive sizes, got {args.shape}")
    try:
        require_gpu()
    except NoGPUError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    shapes = matmul.CHECK_SHAPES[:2]  # the simulator runs one Python thread per CUDA thread
    if not simulated():
        shapes = (*matmul.CHECK_SHAPES, (1000, 1000, 1000), (1024, 784, 512), (4096, 4096, 4096))
    if args.shape:
        shapes = (tuple(args.shape),)
    versions = [v for v in matmul.VERSIONS if v in args.versions]  # in ladder order, once each
    fused = [v for v in versions if v in matmul.FUSED]
    try:
        errors = matmul.validate(versions, shapes=shapes)
        worst = {}  # per precision: a TF32 error says nothing about the float32 versions
        for (version, _), err in errors.items():
            precision = matmul.precision_of(version)
            worst[precision] = max(worst.get(precision, 0.0), err)
        print(
            f"{gpu_name()}: {len(errors)} matmul checks ({len(versions)} versions), worst "
            "relative error "
            + ", ".join(
                f"{worst[p]:.1e} in {p} (tolerance {matmul.PRECISIONS[p][1]:.0e})" for p in worst
            )
        )
        checks = [{"bias": True, "activation": act} for act in matmul.ACTIVATIONS]
        checks += [{"trans_a": True, "col_sums": True, "split": 2}, {"trans_b": True, "mask": True}]
        epilogues = [
            err
            for options in (checks if fused else [])
            for err in matmul.validate(fused, shapes[:2], **options).values()
        ]
    except AssertionError as e:
        print(f"error: kernel check failed: {e}", file=sys.stderr)
        return 1
    if epilogues:
        print(
            f"fused epilogues (bias and every activation, transposed operands, mask, column "
            f"sums, split-K): {len(epilogues)} checks, worst relative error {max(epilogues):.1e}"
        )
    else:
        print("fused epilogues: not checked (they belong to double_buffered and wide)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
