"""Activations against NumPy, their derivatives against finite differences, and stability."""

import math

import numpy as np
import pytest

from phase1_python import Matrix, numerical_gradient, relative_error, softmax, softmax_backward
from phase1_python.activations import ACTIVATIONS
from shared.testing import ODD_SHAPES, assert_close

#: the tests `python -m shared.exercises check 1.2` runs against the learner's file
pytestmark = pytest.mark.exercise(id="1.2")


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


REFERENCE = {"sigmoid": np_sigmoid, "relu": lambda x: np.maximum(x, 0.0), "tanh": np.tanh}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("shape", ODD_SHAPES)
def test_matches_numpy_on_matrices(name, shape, rng):
    x = rng.standard_normal(shape) * 3
    f, _ = ACTIVATIONS[name]
    assert_close(f(Matrix(x)), REFERENCE[name](x))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_accepts_scalars_and_lists(name):
    f, f_prime = ACTIVATIONS[name]
    xs = [-2.0, -0.5, 0.3, 4.0]
    assert isinstance(f(0.7), float) and isinstance(f_prime(0.7), float)
    assert f(xs) == [f(v) for v in xs]
    assert f_prime(xs) == [f_prime(v) for v in xs]
    assert f(Matrix([xs])).tolist() == [f(xs)]
    assert_close([f(v) for v in xs], REFERENCE[name](np.array(xs)))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_derivatives_match_finite_differences(name, rng):
    f, f_prime = ACTIVATIONS[name]
    # keep relu's inputs away from its kink at 0, where the derivative is undefined
    x = Matrix(rng.uniform(0.05, 2.0, (4, 5)) * rng.choice([-1, 1], (4, 5)))
    numeric = numerical_gradient(lambda: f(x).sum(), x)
    assert relative_error(f_prime(x), numeric) < 1e-7


def test_relu_prime_is_0_at_the_kink():
    # the subgradient at 0 is a choice: 0, as NumPy and PyTorch code use (and the docstring says)
    from phase1_python import relu_prime

    assert relu_prime(Matrix([[0.0, 1.0, -1.0]])) == Matrix([[0.0, 1.0, 0.0]]), "relu_prime(0)"


def test_sigmoid_is_stable_for_large_inputs():
    assert sigmoid_values([-1000.0, 1000.0]) == [0.0, 1.0]
    from phase1_python import sigmoid, sigmoid_prime

    assert sigmoid(-745.0) > 0.0 or sigmoid(-745.0) == 0.0  # no OverflowError
    assert sigmoid_prime(1000.0) == 0.0 and sigmoid_prime(-1000.0) == 0.0
    assert math.isclose(sigmoid(-30.0), 1 / (1 + math.exp(30.0)), rel_tol=1e-12)


def sigmoid_values(xs):
    from phase1_python import sigmoid

    return sigmoid(xs)


@pytest.mark.parametrize("shape", ODD_SHAPES)
def test_softmax_rows_match_numpy(shape, rng):
    x = rng.standard_normal(shape) * 5
    e = np.exp(x - x.max(axis=1, keepdims=True))
    assert_close(softmax(Matrix(x)), e / e.sum(axis=1, keepdims=True))


def test_softmax_is_stable_and_accepts_lists_and_scalars():
    out = softmax([1000.0, 1000.0, -1000.0])
    assert out == [0.5, 0.5, 0.0]
    big = softmax(Matrix([[1e308, 0.0], [-1e308, 0.0]]))
    assert big.tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert softmax(3.0) == 1.0
    assert math.isclose(sum(softmax([0.1, 0.2, 0.3])), 1.0, rel_tol=1e-15)
    with pytest.raises(ValueError, match="empty"):
        softmax([])
    with pytest.raises(TypeError, match="softmax"):  # a number, a list or a Matrix: not text
        softmax("3")


def test_softmax_backward_matches_finite_differences(rng):
    x = Matrix(rng.standard_normal((3, 5)))
    g = Matrix(rng.standard_normal((3, 5)))
    numeric = numerical_gradient(lambda: (softmax(x) * g).sum(), x)
    assert relative_error(softmax_backward(softmax(x), g), numeric) < 1e-7


def test_non_numbers_are_rejected():
    from phase1_python import relu

    with pytest.raises(TypeError, match="relu: element 1"):
        relu([1.0, "2"])
    with pytest.raises(TypeError, match="real number"):
        relu(None)
