"""Train an MLP on MNIST (or Fashion-MNIST) with the project's own kernels.

    python -m phase5_training [--dataset mnist] [--data-dir DIR] [--device auto|cpu|gpu]
                              [--widths 784 512 256 10] [--epochs 10] [--batch-size 128] [--lr 0.05]
                              [--momentum 0.9] [--no-nesterov] [--weight-decay 5e-4] [--seed 0]
                              [--out results/mnist] [--resume CHECKPOINT] [--evaluate MODEL]
                              [--plots]

`--device auto` trains on the GPU with Phase 4's kernels where there is one, else on the CPU with
Phase 3's C library, and says which; `--device gpu` without a GPU stops with a clear message.
Exit codes: 0 done, 1 the training diverged (NaN loss), 2 bad arguments or data, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys

from phase5_training.mlp import TrainConfig
from shared.datasets import DataNotFoundError
from shared.idx import IdxError


def parse(argv: list[str] | None) -> argparse.Namespace:
    d = TrainConfig()
    p = argparse.ArgumentParser(
        prog="python -m phase5_training", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--dataset", default=d.dataset, choices=["mnist", "fashion-mnist"])
    p.add_argument("--data-dir", help="folder holding the four IDX files (see shared/datasets.py)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "gpu"])
    p.add_argument("--widths", type=int, nargs="+", default=list(d.widths))
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr, help="peak learning rate")
    p.add_argument("--momentum", type=float, default=d.momentum)
    p.add_argument("--no-nesterov", dest="nesterov", action="store_false")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--schedule", default=d.schedule, choices=["onecycle", "constant"])
    p.add_argument("--val-fraction", type=float, default=d.val_fraction)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--limit", type=int, help="train on the first N images only (a quick look)")
    p.add_argument(
        "--out", default="results/mnist", help="folder for checkpoint, model and metrics"
    )
    p.add_argument("--resume", help="continue from a checkpoint.npz")
    p.add_argument(
        "--evaluate", metavar="MODEL", help="only evaluate a saved model.npz on the test set"
    )
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--plots", action="store_true",
        help="also draw the run's figures into OUT/plots (needs the `plot` extra: matplotlib)",
    )  # fmt: skip
    return p.parse_args(argv)


def pick_device(requested: str) -> str:
    """'cpu' or 'gpu'; SystemExit(2) with a message when the request cannot be met."""
    if requested == "cpu":
        return "cpu"
    from phase4_cuda.device import NoGPUError, require_gpu, simulated

    if requested == "gpu":
        try:
            require_gpu()
        except NoGPUError as e:
            raise SystemExit(f"error: --device gpu: {e}") from None
        return "gpu"
    from numba import cuda

    if not simulated() and cuda.is_available():
        print("device: gpu (the project's numba kernels)", flush=True)
        return "gpu"
    print("device: cpu (no CUDA GPU here: Phase 3's C library)", flush=True)
    return "cpu"


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    from phase5_training.train import TrainingDiverged, evaluate, make_trainer, prepare_data, train

    config = TrainConfig(
        dataset=args.dataset, widths=tuple(args.widths), epochs=args.epochs, batch_size=args.batch_size,
        lr=args.lr, momentum=args.momentum, nesterov=args.nesterov, weight_decay=args.weight_decay,
        schedule=args.schedule, val_fraction=args.val_fraction, seed=args.seed, limit=args.limit,
    )  # fmt: skip
    if args.plots:  # before training: a missing extra should not cost a training run
        from phase6_report.plots import MissingPlotting, require_matplotlib

        try:
            require_matplotlib()
        except MissingPlotting as e:
            print(f"error: --plots: {e}", file=sys.stderr)
            return 2
    try:
        if args.evaluate:
            from phase5_training.mlp import load_checkpoint
            from shared.datasets import load_dataset

            params, saved, _ = load_checkpoint(args.evaluate)
            data = prepare_data(load_dataset(saved.dataset, args.data_dir), saved)
            result = evaluate(make_trainer("cpu", params, saved), data["x_test"], data["y_test"])
            print(
                f"{args.evaluate}: test accuracy {result['accuracy']:.2%}, loss {result['loss']:.4f}"
            )
            return 0
        config.validate()
        device = pick_device(args.device)
        metrics = train(
            config, args.out, args.data_dir, device, args.resume, progress=not args.no_progress
        )
    except (ValueError, DataNotFoundError, IdxError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except TrainingDiverged as e:
        print(f"error: training diverged: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    test = metrics["test"]
    print(
        f"{config.dataset} on the {device}: test accuracy {test['accuracy']:.2%} after {config.epochs} epochs, "
        f"{metrics['train_seconds']:.1f} s of training; artefacts in {args.out}"
    )
    if metrics["compile_seconds"] or metrics["capture_seconds"]:
        print(
            f"of which {metrics['compile_seconds']:.2f} s compiling the kernels (or loading them "
            f"from numba's cache) and {metrics['capture_seconds']:.2f} s capturing CUDA graphs"
        )
    if args.plots:
        from pathlib import Path

        from phase6_report.report import training_figures

        out = Path(args.out)
        (out / "plots").mkdir(exist_ok=True)
        label = f"{config.dataset}, {device}"
        missing: list[str] = []
        figures = training_figures(
            {label: (out / "metrics.json", metrics)}, out / "model.npz", out / "plots",
            args.data_dir, missing,
        )  # fmt: skip
        for note in missing:
            print(f"note: {note}")
        print(f"{len(figures)} figures in {out / 'plots'}")
    worst = min(range(len(test["per_class_accuracy"])), key=test["per_class_accuracy"].__getitem__)
    print(f"hardest class: {metrics['classes'][worst]} ({test['per_class_accuracy'][worst]:.2%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
