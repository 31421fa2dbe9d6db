"""The gradient check: backpropagation's gradients against central differences of the loss,
layer by layer, for every activation, in float64.

    python -m phase2_numpy.gradcheck             # 784-... is too big to perturb every weight:
    python -m phase2_numpy.gradcheck --widths 20 16 12 10 --batch 8

For every weight w the numerical gradient is (L(w + h) - L(w - h)) / 2h. Its error is O(h^2)
(the h^2 terms of the two Taylor series cancel) plus rounding of about eps * L / h, so h = 1e-5
in float64 leaves about 1e-10 of both. The check reports, per parameter array, the relative
error  |g_analytic - g_numerical| / max(|g_analytic|, |g_numerical|)  (norms over the array)
and fails when one exceeds the tolerance (1e-6). ReLU's kink at 0 is a point where the
derivative does not exist: with random weights no pre-activation lands within h of it.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from phase2_numpy.network import ACTIVATIONS, backward, cross_entropy, forward, he_init

__all__ = ["TOLERANCE", "gradient_errors", "main"]

TOLERANCE = 1e-6


def gradient_errors(
    widths: tuple[int, ...], activation: str, batch: int = 8, seed: int = 0, h: float = 1e-5
) -> list[tuple[str, float, float, float]]:
    """(name, |analytic|, |numerical|, relative error) for every W[l] and b[l] of a random
    network and batch (norms over the array)."""
    rng = np.random.default_rng(seed)
    params = he_init(widths, seed).astype(np.float64)
    for bias in params.b:  # non-zero biases, so that their gradient is tested too
        bias += rng.normal(0, 0.1, bias.shape)
    x = rng.normal(0, 1, (batch, widths[0]))
    y = rng.integers(0, widths[-1], batch)

    def loss() -> float:
        return cross_entropy(forward(params.W, params.b, x, activation)[-1], y)

    grads_W, grads_b = backward(params.W, forward(params.W, params.b, x, activation), y, activation)
    errors = []
    for l in range(len(params.W)):
        for name, value, analytic in (
            (f"W{l}", params.W[l], grads_W[l]),
            (f"b{l}", params.b[l], grads_b[l]),
        ):
            numerical = np.zeros_like(value)
            for i in np.ndindex(value.shape):
                keep = value[i]
                value[i] = keep + h
                up = loss()
                value[i] = keep - h
                down = loss()
                value[i] = keep
                numerical[i] = (up - down) / (2 * h)
            norms = float(np.linalg.norm(analytic)), float(np.linalg.norm(numerical))
            error = float(np.linalg.norm(analytic - numerical)) / max(*norms, 1e-300)
            errors.append((name, *norms, error))
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m phase2_numpy.gradcheck", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--widths", type=int, nargs="+", default=[20, 16, 12, 10],
                        help="layer widths, input first (default: 20 16 12 10)")  # fmt: skip
    parser.add_argument("--batch", type=int, default=8, help="samples in the batch (default 8)")
    parser.add_argument("--activation", choices=sorted(ACTIVATIONS), action="append",
                        help="check only this one (repeatable; default: all)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if len(args.widths) < 2 or min(args.widths) < 1 or args.batch < 1:
        parser.error("need at least two widths >= 1 and a batch >= 1")
    worst = 0.0
    print(f"widths {'-'.join(map(str, args.widths))}, batch {args.batch}, float64, h = 1e-5")
    print(
        f"{'activation':<10} {'array':<6} {'|analytic|':>14} {'|numerical|':>14} {'rel. error':>10}"
    )
    for activation in args.activation or sorted(ACTIVATIONS):
        widths = tuple(args.widths)
        for name, a, n, error in gradient_errors(widths, activation, args.batch, args.seed):
            print(f"{activation:<10} {name:<6} {a:>14.10f} {n:>14.10f} {error:>10.2e}")
            worst = max(worst, error)
    verdict = "pass" if worst <= TOLERANCE else "FAIL"
    print(f"worst {worst:.2e} against a tolerance of {TOLERANCE:.0e}: {verdict}")
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
