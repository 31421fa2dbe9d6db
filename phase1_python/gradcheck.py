"""Numerical gradient checking by central finite differences: the test that every analytic
gradient in the project (activations, losses, layers, whole networks) has to pass.

    df/dx_i ~= (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)

has error O(eps^2); with float64 and eps = 1e-6 the relative error of a correct gradient is
typically below 1e-7, while a wrong formula gives errors near 1.

    python -m phase1_python.gradcheck [--seed 0] [--eps 1e-6] [--tol 1e-6]

checks a small 4-5-3 network (tanh, softmax cross-entropy) layer by layer: it prints the first
analytic and numerical gradient elements of every parameter side by side, with their relative
error, and exits non-zero if any error is above the tolerance.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable

from phase1_python.layers import Activation, Dense, Layer
from phase1_python.losses import LOSSES, one_hot
from phase1_python.matrix import Matrix
from phase1_python.network import Network

__all__ = ["check_layer", "numerical_gradient", "relative_error"]


def numerical_gradient(f: Callable[[], float], m: Matrix, eps: float = 1e-6) -> Matrix:
    """d f() / d m, perturbing each element of `m` in place (and restoring it) around the call."""
    grad = Matrix.zeros(m.rows, m.cols)
    for i in range(m.rows):
        for j in range(m.cols):
            original = m.data[i][j]
            m.data[i][j] = original + eps
            plus = f()
            m.data[i][j] = original - eps
            minus = f()
            m.data[i][j] = original
            grad.data[i][j] = (plus - minus) / (2.0 * eps)
    return grad


def relative_error(a: Matrix, b: Matrix, floor: float = 1e-12) -> float:
    """max |a - b| / max(max |a|, max |b|, floor): 0 for identical matrices.

    Scaled by the largest element rather than element by element, because a finite difference
    carries an absolute error (about 1e-10 here) that would swamp the relative error of a
    gradient element that happens to be tiny.
    """
    if a.shape != b.shape:
        raise ValueError(f"relative_error: shapes {a.shape} and {b.shape} differ")
    diff = max(
        abs(x - y)
        for ra, rb in zip(a.data, b.data, strict=True)
        for x, y in zip(ra, rb, strict=True)
    )
    scale = max(max(abs(v) for row in m.data for v in row) for m in (a, b))
    return diff / max(scale, floor)


def check_layer(layer: Layer, x: Matrix, seed: int = 0, eps: float = 1e-6) -> dict[str, float]:
    """Compare a layer's backward pass with finite differences.

    Uses the scalar L = sum(forward(x) * R) for a fixed random R, so dL/d(output) = R.
    Returns the relative error of the gradient with respect to the input ("x") and each parameter.
    """
    r = Matrix.random(*layer.forward(x).shape, seed=seed)

    def loss() -> float:
        return (layer.forward(x) * r).sum()  # type: ignore[return-value]

    layer.forward(x)
    analytic_dx = layer.backward(r)
    analytic = {"x": analytic_dx} | {name: g for name, _, g in layer.parameters()}
    errors = {"x": relative_error(analytic["x"], numerical_gradient(loss, x, eps))}
    for name, value, _ in layer.parameters():
        errors[name] = relative_error(analytic[name], numerical_gradient(loss, value, eps))
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eps", type=float, default=1e-6, help="the step h of the differences")
    parser.add_argument("--tol", type=float, default=1e-6, help="largest relative error passed")
    parser.add_argument("--show", type=int, default=3, help="gradient elements printed per row")
    args = parser.parse_args(argv)
    if not args.eps > 0:
        parser.error(f"--eps must be positive, got {args.eps}")
    rng = random.Random(args.seed)
    net = Network([Dense(4, 5, rng=rng), Activation("tanh"), Dense(5, 3, init="xavier", rng=rng)])
    # x: (6, 4) one sample per row; y: (6, 3) one-hot labels
    x = Matrix([[rng.gauss(0.0, 1.0) for _ in range(4)] for _ in range(6)])
    y = one_hot([rng.randrange(3) for _ in range(6)], 3)
    loss = LOSSES["softmax_cross_entropy"]
    print(f"network {net.layers}, softmax cross-entropy, batch {x.rows}, eps {args.eps:g}")

    def f() -> float:
        return loss.value(net.forward(x), y)

    dx = net.backward(loss.grad(net.forward(x), y))  # fills every layer's dW, db
    checks = []  # (where, name, analytic gradient, the matrix it is the gradient of L by)
    for i, layer in enumerate(net.layers):
        for name, value, grad in layer.parameters():
            checks.append((f"layer {i} {layer!r}", name, grad, value))
    checks.append(("input", "x", dx, x))
    worst = 0.0
    for where, name, analytic, value in checks:
        numeric = numerical_gradient(f, value, args.eps)
        error = relative_error(analytic, numeric)
        worst = max(worst, error)
        print(f"{where}: dL/d{name} {analytic.rows}x{analytic.cols}, relative error {error:.1e}")
        shown = min(args.show, analytic.cols)
        for a_row, n_row in zip(analytic.data[:2], numeric.data[:2], strict=True):
            a_txt = " ".join(f"{v:+.10f}" for v in a_row[:shown])
            n_txt = " ".join(f"{v:+.10f}" for v in n_row[:shown])
            print(f"    analytic {a_txt}   numerical {n_txt}")
    verdict = "pass" if worst <= args.tol else "FAIL"
    print(f"largest relative error {worst:.1e} (tolerance {args.tol:g}): {verdict}")
    return 0 if worst <= args.tol else 1


if __name__ == "__main__":
    sys.exit(main())
