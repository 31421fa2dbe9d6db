"""Activation functions and their derivatives, in pure Python: the reference for every later phase.

Each function takes a number, a flat list of numbers, or a `Matrix`, and returns the same kind.
`*_prime(x)` is the derivative with respect to the input x, elementwise. Softmax is not elementwise:
on a list it normalises the whole list, on a Matrix each row (one sample per row), and its backward
pass is the vector-Jacobian product `softmax_backward(probs, grad)` rather than a "prime".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

from phase1_python.matrix import Matrix, _as_float

__all__ = [
    "ACTIVATIONS",
    "relu",
    "relu_prime",
    "sigmoid",
    "sigmoid_prime",
    "softmax",
    "softmax_backward",
    "tanh",
    "tanh_prime",
]

T = TypeVar("T", float, list, Matrix)


def _elementwise(fn: Callable[[float], float], x: T, name: str) -> T:
    if isinstance(x, Matrix):
        return x.map(fn)
    if isinstance(x, list):
        return [fn(_as_float(v, f"{name}: element {i}")) for i, v in enumerate(x)]
    return fn(_as_float(x, name))


def _sigmoid(v: float) -> float:
    # Two branches so exp never overflows: for v << 0, 1/(1+exp(-v)) would compute exp(+huge).
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


def _sigmoid_prime(v: float) -> float:
    s = _sigmoid(v)
    return s * (1.0 - s)


def _relu(v: float) -> float:
    return v if v > 0.0 else 0.0


def _relu_prime(v: float) -> float:
    return 1.0 if v > 0.0 else 0.0  # the subgradient 0 at v == 0, as PyTorch and NumPy code use


def _tanh_prime(v: float) -> float:
    t = math.tanh(v)
    return 1.0 - t * t


def sigmoid(x: T) -> T:
    """1 / (1 + e^-x), computed without overflow for any finite x."""
    return _elementwise(_sigmoid, x, "sigmoid")


def sigmoid_prime(x: T) -> T:
    """sigmoid(x) * (1 - sigmoid(x))."""
    return _elementwise(_sigmoid_prime, x, "sigmoid_prime")


def relu(x: T) -> T:
    """max(x, 0)."""
    return _elementwise(_relu, x, "relu")


def relu_prime(x: T) -> T:
    """1 where x > 0, else 0."""
    return _elementwise(_relu_prime, x, "relu_prime")


def tanh(x: T) -> T:
    return _elementwise(math.tanh, x, "tanh")


def tanh_prime(x: T) -> T:
    """1 - tanh(x)^2."""
    return _elementwise(_tanh_prime, x, "tanh_prime")


def _softmax_row(row: list[float]) -> list[float]:
    # Subtracting the max changes nothing mathematically and keeps exp() <= 1: no overflow.
    top = max(row)
    exps = [math.exp(v - top) for v in row]
    total = math.fsum(exps)
    return [e / total for e in exps]


def softmax(x: T) -> T:
    """e^x / sum(e^x): over a whole list, or over each row of a Matrix. A number gives 1.0."""
    if isinstance(x, Matrix):
        return Matrix._wrap([_softmax_row(row) for row in x.data])
    if isinstance(x, list):
        if not x:
            raise ValueError("softmax of an empty list is undefined")
        return _softmax_row([_as_float(v, f"softmax: element {i}") for i, v in enumerate(x)])
    _as_float(x, "softmax")
    return 1.0


def softmax_backward(probs: Matrix, grad: Matrix) -> Matrix:
    """Given s = softmax(x) row-wise and dL/ds, return dL/dx = s * (dL/ds - sum(dL/ds * s)).

    probs, grad: (batch, classes). This is the Jacobian diag(s) - s s^T applied to each row.
    """
    if probs.shape != grad.shape:
        raise ValueError(f"softmax_backward: probs {probs.shape} and grad {grad.shape} differ")
    out = []
    for s, g in zip(probs.data, grad.data, strict=True):
        inner = math.fsum(map(float.__mul__, s, g))
        out.append([si * (gi - inner) for si, gi in zip(s, g, strict=True)])
    return Matrix._wrap(out)


#: name -> (function, derivative); softmax is separate because its derivative is not elementwise.
ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "sigmoid": (sigmoid, sigmoid_prime),
    "relu": (relu, relu_prime),
    "tanh": (tanh, tanh_prime),
}
