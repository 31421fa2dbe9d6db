"""Loss functions and their gradients, in pure Python: the reference for every later phase.

Predictions and targets are Matrices of shape (batch, outputs), one sample per row. Each loss
returns a float averaged over the batch; each `*_prime` returns dLoss/dPrediction with the same
averaging, so it can be fed straight into a network's backward pass. Conventions (as NumPy and
PyTorch use): MSE and binary cross-entropy average over *all* elements; categorical cross-entropy
sums over classes and averages over samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from phase1_python.activations import softmax
from phase1_python.matrix import Matrix

__all__ = [
    "LOSSES",
    "Loss",
    "binary_cross_entropy",
    "binary_cross_entropy_prime",
    "categorical_cross_entropy",
    "categorical_cross_entropy_prime",
    "mse",
    "mse_prime",
    "one_hot",
    "softmax_cross_entropy",
    "softmax_cross_entropy_prime",
]

#: Probabilities are clipped away from 0 (and, where log(1 - p) is taken, from 1) so log(0) never happens.
EPS = 1e-12


def _check(pred: Matrix, target: Matrix, name: str) -> None:
    for what, m in (("prediction", pred), ("target", target)):
        if not isinstance(m, Matrix):
            raise TypeError(f"{name}: {what} must be a Matrix, got {type(m).__name__}")
    if pred.shape != target.shape:
        raise ValueError(
            f"{name}: prediction {pred.shape} and target {target.shape} differ in shape"
        )


def _clip(p: float) -> float:
    return min(max(p, EPS), 1.0 - EPS)


def mse(pred: Matrix, target: Matrix) -> float:
    """mean((pred - target)^2) over all elements."""
    _check(pred, target, "mse")
    diff = pred - target
    return (diff * diff).mean()  # type: ignore[return-value]


def mse_prime(pred: Matrix, target: Matrix) -> Matrix:
    """2 (pred - target) / number of elements."""
    _check(pred, target, "mse_prime")
    return (pred - target) * (2.0 / (pred.rows * pred.cols))


def binary_cross_entropy(pred: Matrix, target: Matrix) -> float:
    """-mean(t log p + (1 - t) log(1 - p)), p clipped away from 0 and 1."""
    _check(pred, target, "binary_cross_entropy")
    total = math.fsum(
        t * math.log(_clip(p)) + (1.0 - t) * math.log(1.0 - _clip(p))
        for rp, rt in zip(pred.data, target.data, strict=True)
        for p, t in zip(rp, rt, strict=True)
    )
    return -total / (pred.rows * pred.cols)


def binary_cross_entropy_prime(pred: Matrix, target: Matrix) -> Matrix:
    """(p - t) / (p (1 - p)) / number of elements, p clipped as in the loss."""
    _check(pred, target, "binary_cross_entropy_prime")
    n = pred.rows * pred.cols
    return Matrix._wrap(
        [
            [
                (_clip(p) - t) / (_clip(p) * (1.0 - _clip(p))) / n
                for p, t in zip(rp, rt, strict=True)
            ]
            for rp, rt in zip(pred.data, target.data, strict=True)
        ]
    )


def categorical_cross_entropy(probs: Matrix, target: Matrix) -> float:
    """-mean over samples of sum_k t_k log p_k, for probabilities (rows summing to 1), p floored at EPS."""
    _check(probs, target, "categorical_cross_entropy")
    total = math.fsum(
        t * math.log(max(p, EPS))
        for rp, rt in zip(probs.data, target.data, strict=True)
        for p, t in zip(rp, rt, strict=True)
        if t
    )
    return -total / probs.rows


def categorical_cross_entropy_prime(probs: Matrix, target: Matrix) -> Matrix:
    """-t / p / batch, p floored at EPS as in the loss."""
    _check(probs, target, "categorical_cross_entropy_prime")
    b = probs.rows
    return Matrix._wrap(
        [
            [-t / max(p, EPS) / b for p, t in zip(rp, rt, strict=True)]
            for rp, rt in zip(probs.data, target.data, strict=True)
        ]
    )


def _log_softmax_row(row: list[float]) -> list[float]:
    top = max(row)
    log_total = top + math.log(math.fsum(math.exp(v - top) for v in row))
    return [v - log_total for v in row]


def softmax_cross_entropy(logits: Matrix, target: Matrix) -> float:
    """Categorical cross-entropy of softmax(logits), through log-sum-exp: finite for any logits."""
    _check(logits, target, "softmax_cross_entropy")
    total = math.fsum(
        t * lp
        for row, rt in zip(logits.data, target.data, strict=True)
        for lp, t in zip(_log_softmax_row(row), rt, strict=True)
    )
    return -total / logits.rows


def softmax_cross_entropy_prime(logits: Matrix, target: Matrix) -> Matrix:
    """(softmax(logits) - target) / batch: the famously simple fused gradient."""
    _check(logits, target, "softmax_cross_entropy_prime")
    return (softmax(logits) - target) * (1.0 / logits.rows)


def one_hot(labels: Sequence[int], n_classes: int) -> Matrix:
    """labels [2, 0] with n_classes 3 -> [[0, 0, 1], [1, 0, 0]]."""
    rows = []
    for i, label in enumerate(labels):
        if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < n_classes:
            raise ValueError(
                f"one_hot: label {i} is {label!r}, expected an int in [0, {n_classes})"
            )
        row = [0.0] * n_classes
        row[label] = 1.0
        rows.append(row)
    if not rows:
        raise ValueError("one_hot: no labels given")
    return Matrix._wrap(rows)


@dataclass(frozen=True)
class Loss:
    """A loss and its gradient, so a network can be trained with any of them by name."""

    name: str
    value: Callable[[Matrix, Matrix], float]
    grad: Callable[[Matrix, Matrix], Matrix]


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        Loss("mse", mse, mse_prime),
        Loss("binary_cross_entropy", binary_cross_entropy, binary_cross_entropy_prime),
        Loss(
            "categorical_cross_entropy", categorical_cross_entropy, categorical_cross_entropy_prime
        ),
        Loss("softmax_cross_entropy", softmax_cross_entropy, softmax_cross_entropy_prime),
    )
}
