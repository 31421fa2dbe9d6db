"""Numerical gradient checking by central finite differences: the test that every analytic
gradient in the project (activations, losses, layers, whole networks) has to pass.

    df/dx_i ~= (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)

has error O(eps^2); with float64 and eps = 1e-6 the relative error of a correct gradient is
typically below 1e-7, while a wrong formula gives errors near 1.
"""

from __future__ import annotations

from collections.abc import Callable

from phase1_python.layers import Layer
from phase1_python.matrix import Matrix

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
