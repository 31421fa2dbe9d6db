"""The fused dense layer, the softmax and the MLP forward pass against Phase 1 and NumPy."""

import itertools

import numpy as np
import pytest

from phase1_python import Activation, Dense, Matrix, Network, Softmax
from phase4_cuda import dense
from phase4_cuda.matmul import ACTIVATIONS, reference, relative_error

#: the tests `python -m shared.exercises check 4.6` runs against the learner's file
pytestmark = pytest.mark.exercise(id="4.6")


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("batch,n_in,n_out", [(1, 1, 1), (17, 33, 10), (5, 3, 70)])
def test_dense_forward_matches_numpy(activation, batch, n_in, n_out, rng):
    x = rng.standard_normal((batch, n_in), dtype=np.float32)
    w = rng.standard_normal((n_in, n_out), dtype=np.float32)
    b = rng.standard_normal(n_out, dtype=np.float32)
    got = dense.dense_forward(x, w, b, activation)
    assert relative_error(got, reference(x, w, b, activation)) < 1e-5


def test_device_arrays_stay_on_the_device(rng):
    from numba import cuda

    from phase4_cuda.device import is_device_array

    x = rng.standard_normal((3, 4), dtype=np.float32)
    w, b = rng.standard_normal((4, 5), dtype=np.float32), np.zeros(5, np.float32)
    got = dense.dense_forward(cuda.to_device(x), w, b)
    assert is_device_array(got), "dense_forward: device in, device out (no copy back)"
    assert relative_error(got.copy_to_host(), reference(x, w, b, "relu")) < 1e-5
    probs = dense.mlp_forward(cuda.to_device(x), [w], [b])
    assert is_device_array(probs), "mlp_forward: device in, device out (no copy back)"


def test_dense_forward_bad_input(rng):
    x, w = np.ones((4, 3), np.float32), np.ones((3, 2), np.float32)
    with pytest.raises(ValueError, match=r"x is \(4, 3\) but W is \(2, 2\)"):
        dense.dense_forward(x, np.ones((2, 2)), np.ones(2))
    with pytest.raises(ValueError, match=r"bias has shape \(3,\), expected \(2,\)"):
        dense.dense_forward(x, w, np.ones(3))
    with pytest.raises(ValueError, match="activation"):
        dense.dense_forward(x, w, np.ones(2), "gelu")


@pytest.mark.parametrize("rows,cols", [(1, 1), (3, 10), (2, 300)])
def test_softmax_matches_numpy_and_is_stable(rows, cols, rng):
    x = (rng.standard_normal((rows, cols)) * 30).astype(np.float32)
    x[0, 0] = 80.0  # exp(80) overflows float32 without the max subtraction
    z = x.astype(np.float64) - x.max(axis=1, keepdims=True)
    expected = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    got = dense.softmax(x)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


def test_mlp_forward_matches_phase1(rng):
    """The same weights through Phase 1 (pure Python, float64) and the GPU kernels (float32)."""
    sizes = [13, 17, 9, 5]
    layers, weights, biases = [], [], []
    for n_in, n_out in itertools.pairwise(sizes):
        layer = Dense(n_in, n_out, seed=n_in)
        layer.b = Matrix(rng.standard_normal((1, n_out)).tolist())
        layers += [layer, Activation("relu")]
        weights.append(np.array(layer.W.tolist(), dtype=np.float32))
        biases.append(np.array(layer.b.tolist()[0], dtype=np.float32))
    layers[-1] = Softmax()  # the last activation is the softmax
    x = rng.standard_normal((11, 13))
    expected = np.array(Network(layers).forward(Matrix(x.tolist())).tolist())
    got = dense.mlp_forward(x, weights, biases, "relu")
    assert got.shape == (11, 5)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-5)
    assert relative_error(got, expected) < 1e-5


def test_mlp_forward_bad_input():
    with pytest.raises(ValueError, match="one bias per weight"):
        dense.mlp_forward(np.ones((2, 3)), [np.ones((3, 2))], [])
    with pytest.raises(ValueError, match="needs an activation"):
        dense.mlp_forward(np.ones((2, 3)), [np.ones((3, 2))], [np.ones(2)], None)
    with pytest.raises(ValueError, match="activation must be one of"):
        dense.mlp_forward(np.ones((2, 3)), [np.ones((3, 2))], [np.ones(2)], "gelu")
