"""`python -m phase4_cuda`: validate every kernel against NumPy in float64 on this machine's GPU
(or in the simulator): every version of the matmul ladder, and the fused epilogues of versions 6
and 7 that the dense layer and Phase 5 use. This is the "kernel check" step that
`nox -s mnist_gpu` runs before training.

    python -m phase4_cuda [--versions naive wide ...] [--shape M K N] [--once]

With no options it checks every version on the default shapes. `--versions` and `--shape` make
a quick check (the simulator runs one Python thread per CUDA thread): the fused epilogues are
checked only for the versions 6 and 7 among those named. Versions this GPU cannot run (the
tensor-core rungs below compute capability 8.0, the wgmma rungs below 9.0) are left out, with
one line that says so; named with `--versions`, they are an error. `--once` (what `nox -s mnist_gpu` runs)
skips a full check that has already passed on this GPU for the same kernel sources and numba:
a stamp in the kernel cache folder records it, keyed on their digest (kernel_cache.py). The
stamp's folder is the user's alone; one that others could write is neither read nor written
(the check runs in full)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from phase4_cuda import matmul
from phase4_cuda.device import NoGPUError, gpu_name, require_gpu, simulated
from shared.files import atomic_write_text

#: the options the fused epilogues are checked with (validate's True: a random bias, mask and
#: checked column sums): the bias with every activation, and the training step's other layouts
EPILOGUE_CHECKS = (
    *({"bias": True, "activation": act} for act in matmul.ACTIVATIONS),
    {"trans_a": True, "col_sums": True, "split": 2},
    {"trans_b": True, "mask": True},
)


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
    parser.add_argument(
        "--once", action="store_true",
        help="skip a full check that already passed on this GPU for the same kernel sources",
    )  # fmt: skip
    args = parser.parse_args([] if argv is None else argv)
    if args.shape and min(args.shape) < 1:
        parser.error(f"--shape needs positive sizes, got {args.shape}")
    try:
        require_gpu()
    except NoGPUError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    full = not args.shape and args.versions == list(matmul.VERSIONS)
    stamp = _stamp_path() if args.once and full and not simulated() else None
    if stamp is not None and stamp.is_file():
        print(f"{gpu_name()}: the kernel check passed for these kernels' sources "
              f"({_stamp_text(stamp)}); `python -m phase4_cuda` checks again")  # fmt: skip
        return 0
    shapes = matmul.CHECK_SHAPES[:2]  # the simulator runs one Python thread per CUDA thread
    if not simulated():
        shapes = (*matmul.CHECK_SHAPES, (1000, 1000, 1000), (1024, 784, 512), (4096, 4096, 4096))
    if args.shape:
        shapes = (tuple(args.shape),)
    versions = [v for v in matmul.VERSIONS if v in args.versions]  # in ladder order, once each
    versions, left_out = matmul.runnable(versions)
    if left_out and args.versions != list(matmul.VERSIONS):
        print(f"error: {gpu_name()}: {left_out}", file=sys.stderr)
        return 2
    if left_out:
        print(f"{gpu_name()}: {left_out}")
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
        epilogues = [
            err
            for options in (EPILOGUE_CHECKS if fused else [])
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
    if stamp is not None:
        record = {"gpu": gpu_name(), "checks": len(errors) + len(epilogues), "when": time.time()}
        atomic_write_text(stamp, json.dumps(record) + "\n")
    return 0


def _stamp_path() -> Path | None:
    """Where a passed full check is recorded: named by the digest of this check's sources (every
    kernel it imports), the GPU and its compute capability, and numba-cuda's version. None where
    the folder may not be trusted (a stamp there could have been forged to skip the check)."""
    import hashlib

    import numba_cuda

    from phase4_cuda.kernel_cache import cache_folder, private_cache_folder, source_digest

    key = "\0".join(
        (source_digest(Path(__file__)), gpu_name(), str(matmul.compute_capability()),
         getattr(numba_cuda, "__version__", "?"))
    )  # fmt: skip
    folder = private_cache_folder(cache_folder() / "checked")
    return folder and folder / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"


def _stamp_text(stamp: Path) -> str:
    """When the recorded check ran, and how many checks it made, from its stamp."""
    try:
        record = json.loads(stamp.read_text(encoding="utf-8"))
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(float(record["when"])))
        return f"{int(record['checks'])} checks on {when}"
    except (OSError, ValueError, KeyError, TypeError):
        return "recorded"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
