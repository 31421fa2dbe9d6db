"""MNIST with the pure-Python network: the "before" picture of the performance journey.

    python -m phase1_python.examples.mnist [--train 2000] [--epochs 3] [--data-dir DIR]

Trains 784-32-10 (ReLU, softmax cross-entropy) on a subset of the real MNIST training set and
reports accuracy on a subset of the test set. Pure Python manages a few hundred images a second,
so the subset is small; Phase 5 trains the full set on the GPU with the project's own kernels.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from phase1_python import Activation, Dense, Matrix, Network, one_hot
from shared.batches import scale_images
from shared.datasets import DataNotFoundError, load_dataset
from shared.idx import IdxError


def to_matrix(images) -> Matrix:
    """uint8 images (N, 28, 28) -> Matrix (N, 784) in [0, 1]."""
    return Matrix(scale_images(images, dtype=float).tolist())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", help="folder holding the four MNIST IDX files")
    parser.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist"])
    parser.add_argument("--train", type=int, default=2000, help="training images used")
    parser.add_argument("--test", type=int, default=1000, help="test images evaluated")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        ds = load_dataset(args.dataset, args.data_dir)
    except (DataNotFoundError, IdxError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    x_train, y_train = to_matrix(ds.x_train[: args.train]), ds.y_train[: args.train].tolist()
    x_test, y_test = to_matrix(ds.x_test[: args.test]), ds.y_test[: args.test].tolist()
    print(
        f"{ds.name} from {ds.source}: training on {x_train.rows} images, testing on {x_test.rows}"
    )

    rng = random.Random(args.seed)
    net = Network(
        [Dense(784, args.hidden, rng=rng), Activation("relu"), Dense(args.hidden, 10, rng=rng)]
    )
    t0 = time.perf_counter()
    history = net.fit(
        x_train, one_hot(y_train, 10), loss="softmax_cross_entropy", epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, momentum=args.momentum, seed=args.seed,
        progress=not args.no_progress, desc=f"{ds.name} (pure Python)",
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    predicted = net(x_test).argmax(axis=1)
    accuracy = sum(p == t for p, t in zip(predicted, y_test, strict=True)) / len(y_test)
    rate = args.epochs * x_train.rows / seconds
    print(f"loss per epoch: {', '.join(f'{v:.4f}' for v in history)}")
    print(f"trained in {seconds:.1f} s ({rate:,.0f} images/s); test accuracy {accuracy:.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
