"""XOR, the classic problem no single-layer network can solve: a 2-4-1 network learns it.

    python -m phase1_python.examples.xor [--seed 0] [--epochs 2000] [--lr 0.5] [--activation tanh]

tanh hidden units (Xavier initialisation; He for --activation relu), a sigmoid output and binary
cross-entropy, full-batch gradient descent. Prints the four predictions. Exit codes: 0 all four
right, 1 one misclassified or the loss diverged, 2 bad arguments.
"""

from __future__ import annotations

import math
import random
import sys

from phase1_python import Activation, Dense, Matrix, Network
from shared.cli import OneLineParser

INPUTS = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
TARGETS = [[0.0], [1.0], [1.0], [0.0]]


def build(seed: int = 0, activation: str = "tanh") -> Network:
    rng = random.Random(seed)
    return Network(
        [
            Dense(2, 4, init="he" if activation == "relu" else "xavier", rng=rng),
            Activation(activation),
            Dense(4, 1, init="xavier", rng=rng),
            Activation("sigmoid"),
        ]
    )


def train(
    seed: int = 0,
    epochs: int = 2000,
    lr: float = 0.5,
    progress: bool = True,
    activation: str = "tanh",
) -> tuple[Network, list[float]]:
    net = build(seed, activation)
    history = net.fit(
        Matrix(INPUTS), Matrix(TARGETS), loss="binary_cross_entropy",
        epochs=epochs, batch_size=4, lr=lr, seed=seed, progress=progress, desc="xor",
    )  # fmt: skip
    return net, history


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=2000)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--activation", default="tanh", choices=["tanh", "sigmoid", "relu"])
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    if not (args.lr > 0 and math.isfinite(args.lr)):  # NaN fails every comparison
        parser.error(f"--lr must be a finite number > 0, got {args.lr}")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")
    try:
        net, history = train(
            args.seed,
            args.epochs,
            args.lr,
            progress=not args.no_progress,
            activation=args.activation,
        )
    except FloatingPointError as e:  # a learning rate too large for the loss
        print(f"error: {e}", file=sys.stderr)
        return 1
    out = net(Matrix(INPUTS))
    correct = 0
    print(f"final loss {history[-1]:.5f}")
    for x, t, p in zip(INPUTS, TARGETS, out.data, strict=True):
        ok = (p[0] > 0.5) == (t[0] > 0.5)
        correct += ok
        print(
            f"  {int(x[0])} xor {int(x[1])} = {int(t[0])}   predicted {p[0]:.4f}   {'ok' if ok else 'WRONG'}"
        )
    print(f"{correct}/4 correct")
    return 0 if correct == 4 else 1


if __name__ == "__main__":
    sys.exit(main())
