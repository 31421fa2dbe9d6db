"""Layers: forward against NumPy, backward against finite differences, initialisation."""

import math

import numpy as np
import pytest

from phase1_python import Activation, Dense, Matrix, Softmax, check_layer
from shared.testing import assert_close

#: the tests `python -m shared.exercises check 1.5` runs against the learner's file
pytestmark = pytest.mark.exercise(id="1.5")


@pytest.mark.parametrize("batch,n_in,n_out", [(1, 1, 1), (1, 7, 3), (5, 1, 4), (4, 13, 11)])
@pytest.mark.parametrize("init", ["he", "xavier"])
def test_dense_forward_matches_numpy(batch, n_in, n_out, init, rng):
    layer = Dense(n_in, n_out, init=init, seed=3)
    layer.b = Matrix(rng.standard_normal((1, n_out)))
    x = rng.standard_normal((batch, n_in))
    expected = x @ np.array(layer.W.tolist()) + np.array(layer.b.tolist())
    assert_close(layer.forward(Matrix(x)), expected)


@pytest.mark.parametrize("batch,n_in,n_out", [(1, 1, 1), (3, 7, 2), (5, 4, 6)])
def test_dense_backward_matches_numpy_and_finite_differences(batch, n_in, n_out, rng):
    layer = Dense(n_in, n_out, seed=1)
    layer.b = Matrix(rng.standard_normal((1, n_out)))
    x, g = rng.standard_normal((batch, n_in)), rng.standard_normal((batch, n_out))
    layer.forward(Matrix(x))
    dx = layer.backward(Matrix(g))
    w = np.array(layer.W.tolist())
    assert_close(dx, g @ w.T)
    assert_close(layer.dW, x.T @ g)
    assert_close(layer.db, g.sum(axis=0, keepdims=True))
    errors = check_layer(layer, Matrix(x))
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize(
    "layer", [Activation("relu"), Activation("sigmoid"), Activation("tanh"), Softmax()], ids=repr
)
def test_activation_layers_pass_the_gradient_check(layer, rng):
    x = rng.uniform(0.1, 2.0, (3, 5)) * rng.choice([-1, 1], (3, 5))  # away from relu's kink
    errors = check_layer(layer, Matrix(x))
    assert errors["x"] < 1e-7, errors


def test_initialisation_scales():
    he = np.array(Dense(400, 300, init="he", seed=0).W.tolist())
    assert abs(he.std() - math.sqrt(2 / 400)) < 0.002
    xavier = np.array(Dense(400, 300, init="xavier", seed=0).W.tolist())
    limit = math.sqrt(6 / 700)
    assert xavier.max() <= limit and xavier.min() >= -limit
    assert abs(xavier.std() - limit / math.sqrt(3)) < 0.002
    assert Dense(3, 2, seed=5).W == Dense(3, 2, seed=5).W
    assert Dense(3, 2).b == Matrix.zeros(1, 2)


def test_bad_input_is_reported():
    layer = Dense(3, 2)
    with pytest.raises(ValueError, match="input has 4 columns, expected 3"):
        layer.forward(Matrix.zeros(1, 4))
    with pytest.raises(RuntimeError, match="before forward"):
        Dense(3, 2).backward(Matrix.zeros(1, 2))
    layer.forward(Matrix.zeros(2, 3))
    with pytest.raises(ValueError, match=r"grad is \(2, 3\), expected \(2, 2\)"):
        layer.backward(Matrix.zeros(2, 3))
    with pytest.raises(ValueError, match="init must be"):
        Dense(3, 2, init="lecun")
    with pytest.raises(ValueError, match="unknown activation"):
        Activation("gelu")
