"""Losses against NumPy formulas, gradients against finite differences, stability, bad input."""

import math

import numpy as np
import pytest

from phase1_python import LOSSES, Matrix, numerical_gradient, one_hot, relative_error, softmax
from shared.testing import assert_close

#: the tests `python -m shared.exercises check 1.3` runs against the learner's file
pytestmark = pytest.mark.exercise(id="1.3")

SHAPES = [(1, 1), (1, 10), (7, 1), (5, 3), (13, 10)]


def make(shape, rng, kind):
    """Predictions and targets valid for the given loss."""
    if kind == "mse":
        return rng.standard_normal(shape), rng.standard_normal(shape)
    if kind == "binary_cross_entropy":
        return rng.uniform(0.05, 0.95, shape), rng.integers(0, 2, shape).astype(float)
    labels = rng.integers(0, shape[1], shape[0])
    target = np.eye(shape[1])[labels]
    if kind == "categorical_cross_entropy":
        p = rng.uniform(0.1, 1.0, shape)
        return p / p.sum(axis=1, keepdims=True), target
    return rng.standard_normal(shape) * 3, target  # logits


def numpy_loss(kind, p, t):
    if kind == "mse":
        return np.mean((p - t) ** 2)
    if kind == "binary_cross_entropy":
        return -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))
    if kind == "categorical_cross_entropy":
        return -np.sum(t * np.log(p)) / len(p)
    z = p - p.max(axis=1, keepdims=True)
    log_softmax = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -np.sum(t * log_softmax) / len(p)


@pytest.mark.parametrize("kind", sorted(LOSSES))
@pytest.mark.parametrize("shape", SHAPES)
def test_value_matches_numpy(kind, shape, rng):
    p, t = make(shape, rng, kind)
    got = LOSSES[kind].value(Matrix(p), Matrix(t))
    assert math.isclose(got, numpy_loss(kind, p, t), rel_tol=1e-12, abs_tol=1e-15)


@pytest.mark.parametrize("kind", sorted(LOSSES))
@pytest.mark.parametrize("shape", SHAPES)
def test_gradient_matches_finite_differences(kind, shape, rng):
    p_np, t_np = make(shape, rng, kind)
    p, t = Matrix(p_np), Matrix(t_np)
    loss = LOSSES[kind]
    numeric = numerical_gradient(lambda: loss.value(p, t), p)
    assert relative_error(loss.grad(p, t), numeric) < 1e-6


def test_softmax_cross_entropy_is_finite_for_huge_logits():
    logits = Matrix([[1000.0, -1000.0, 0.0], [-1e5, 1e5, 0.0]])
    target = one_hot([1, 1], 3)
    value = LOSSES["softmax_cross_entropy"].value(logits, target)
    assert math.isclose(value, 1000.0, rel_tol=1e-12)  # row 1: 2000/2, row 2: 0
    grad = LOSSES["softmax_cross_entropy"].grad(logits, target)
    assert all(math.isfinite(v) for row in grad for v in row)


def test_fused_softmax_cross_entropy_equals_the_two_step_version(rng):
    logits = Matrix(rng.standard_normal((4, 6)))
    target = one_hot([0, 5, 2, 2], 6)
    fused = LOSSES["softmax_cross_entropy"].value(logits, target)
    two_step = LOSSES["categorical_cross_entropy"].value(softmax(logits), target)
    assert math.isclose(fused, two_step, rel_tol=1e-12)


def test_cross_entropy_clips_zero_probabilities():
    p = Matrix([[0.0, 1.0]])
    assert math.isfinite(LOSSES["categorical_cross_entropy"].value(p, Matrix([[1.0, 0.0]])))
    assert math.isfinite(LOSSES["binary_cross_entropy"].value(p, Matrix([[1.0, 0.0]])))


def test_one_hot():
    assert one_hot([2, 0], 3).tolist() == [[0, 0, 1], [1, 0, 0]]
    assert_close(one_hot(list(range(10)), 10), np.eye(10))
    for bad in ([3], [-1], [1.5], [True]):
        with pytest.raises(ValueError, match=r"expected an int in \[0, 3\)"):
            one_hot(bad, 3)


@pytest.mark.parametrize("kind", sorted(LOSSES))
def test_shape_mismatch_names_both_shapes(kind):
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        LOSSES[kind].value(Matrix.zeros(2, 3), Matrix.zeros(3, 2))
    with pytest.raises(TypeError, match="must be a Matrix"):
        LOSSES[kind].grad([[0.0]], Matrix.zeros(1, 1))
