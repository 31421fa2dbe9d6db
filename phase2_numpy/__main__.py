"""Train the NumPy network on MNIST (or Fashion-MNIST) and print each epoch's loss and accuracy.

    python -m phase2_numpy                          784-512-256-10, 10 epochs, float32
    python -m phase2_numpy --epochs 2 --limit 10000 --activation tanh
    python -m phase2_numpy --help                   every option, with its default

Exit codes: 0 done, 1 the loss diverged, 2 bad arguments or data.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from phase2_numpy.data import prepare_data
from phase2_numpy.network import ACTIVATIONS
from phase2_numpy.train import TrainConfig, dead_units, train
from shared.cli import OneLineParser
from shared.datasets import DataNotFoundError, load_dataset
from shared.idx import IdxError


def parse(argv: list[str] | None) -> argparse.Namespace:
    d = TrainConfig()
    p = OneLineParser(prog="python -m phase2_numpy", description=__doc__.split("\n\n")[0],
                formatter_class=argparse.ArgumentDefaultsHelpFormatter)  # fmt: skip
    p.add_argument("--dataset", default=d.dataset, choices=("mnist", "fashion-mnist"))
    p.add_argument("--data-dir", help="folder holding the data set (else $NNF_DATA_DIR, the cache)")
    p.add_argument("--widths", type=int, nargs="+", default=list(d.widths), help="layer widths")
    p.add_argument("--activation", default=d.activation, choices=sorted(ACTIVATIONS))
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr, help="peak learning rate")
    p.add_argument("--momentum", type=float, default=d.momentum)
    p.add_argument("--no-nesterov", dest="nesterov", action="store_false")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--schedule", default=d.schedule, choices=("onecycle", "constant"))
    p.add_argument("--limit", type=int, help="train on the first N images only")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--no-progress", dest="progress", action="store_false")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    config = TrainConfig(
        dataset=args.dataset,
        widths=tuple(args.widths),
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        momentum=args.momentum,
        nesterov=args.nesterov,
        weight_decay=args.weight_decay,
        schedule=args.schedule,
        seed=args.seed,
        limit=args.limit,
        activation=args.activation,
    )
    try:
        config.validate()
        data = prepare_data(load_dataset(config.dataset, args.data_dir), config)
    except (ValueError, DataNotFoundError, IdxError) as e:
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    n = len(data["y_train"])
    print(
        f"{config.dataset}: {n} training images, {len(data['y_test'])} test; "
        f"{'-'.join(map(str, config.widths))} ({config.activation}), {args.dtype}, "
        f"batch {config.batch_size}, lr {config.lr} ({config.schedule})",
        flush=True,
    )
    started = time.perf_counter()
    try:
        params, history = train(config, data, np.dtype(args.dtype).type, progress=args.progress)
    except FloatingPointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except MemoryError:
        print(
            "error: not enough memory for this run (smaller --widths or --batch-size)",
            file=sys.stderr,
        )
        return 2
    for r in history:
        print(
            f"epoch {r['epoch']}: train loss {r['train_loss']:.4f}, accuracy "
            f"{r['train_accuracy']:.2%}; test accuracy {r['test_accuracy']:.2%} ({r['seconds']:.2f} s)"
        )
    if config.activation == "relu":
        dead = dead_units(params, data["x_test"], config)
        print("dead ReLU units (output 0 for every test image): "
              + ", ".join(f"{share:.1%} of layer {l + 1}" for l, share in enumerate(dead)))  # fmt: skip
    train_seconds = sum(r["seconds"] for r in history)
    print(
        f"test accuracy {history[-1]['test_accuracy']:.2%} after {config.epochs} epochs: "
        f"{train_seconds:.1f} s of training, {n * config.epochs / train_seconds:,.0f} images/s "
        f"({time.perf_counter() - started:.1f} s with evaluation)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
