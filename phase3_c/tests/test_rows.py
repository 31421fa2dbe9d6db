"""The float32 row kernels of a dense layer (through the C-API binding) against NumPy and the
Phase 1 reference, forward and backward."""

import numpy as np
import pytest

import phase3_c
from phase1_python import Matrix, relu, relu_prime, softmax
from shared.testing import assert_close

SHAPES = [(1, 1), (1, 10), (7, 1), (13, 17)]


@pytest.mark.parametrize("shape", SHAPES)
def test_row_kernels_match_numpy_and_phase1(shape, rng):
    x = (rng.standard_normal(shape) * 4).astype(np.float32)
    x[0, 0] = 0.0  # relu'(0) is 0, as in Phase 1
    grad = rng.standard_normal(shape).astype(np.float32)
    bias = rng.standard_normal(shape[1]).astype(np.float32)
    x64 = x.astype(np.float64)
    assert_close(phase3_c.bias_add(x, bias), x64 + bias, rtol=1e-6)
    assert_close(phase3_c.relu(x), relu(Matrix(x64)), rtol=0)
    assert_close(
        phase3_c.relu_backward(grad, x), np.asarray(relu_prime(Matrix(x64)).tolist()) * grad, rtol=0
    )
    assert_close(phase3_c.softmax(x), softmax(Matrix(x64)), rtol=1e-5, atol=1e-7)
    assert_close(phase3_c.sum(x, 0), x64.sum(axis=0), rtol=1e-5, atol=1e-5)
    assert_close(phase3_c.sum(x, 1), x64.sum(axis=1), rtol=1e-5, atol=1e-5)


def test_softmax_is_stable():
    x = np.array([[90.0, 0.0, -90.0]], dtype=np.float32)  # exp(90) overflows float32
    out = phase3_c.softmax(x)
    assert np.isfinite(out).all() and abs(out.sum() - 1) < 1e-6


def test_row_kernels_reject_bad_input():
    x = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        phase3_c.bias_add(x, np.ones(3, np.float32))
    with pytest.raises(ValueError, match="shapes differ"):
        phase3_c.relu_backward(x, np.ones((4, 3), np.float32))
    with pytest.raises(ValueError, match="axis must be 0 or 1"):
        phase3_c.sum(x, 2)
    with pytest.raises(TypeError, match="needs float32 arrays, got float64"):
        phase3_c.relu(np.ones((2, 2)))


def test_relu_keeps_nan_and_infinities_as_numpy_does():
    x = np.array([[np.nan, -1.0, 2.0, np.inf, -np.inf, -0.0]], np.float32)
    np.testing.assert_array_equal(phase3_c.relu(x), np.maximum(x, np.float32(0)))
    # the mask of the backward pass: no gradient where the input is NaN (NaN > 0 is false)
    np.testing.assert_array_equal(
        phase3_c.relu_backward(np.ones_like(x), x), np.where(x > 0, 1, 0).astype(np.float32)
    )


@pytest.mark.parametrize("fn", ["relu", "softmax", "bias_add", "relu_backward"])
def test_no_columns_take_no_time_whatever_the_rows(fn):
    """A (2^36, 0) array holds nothing: the kernels must not walk its 2^36 empty rows."""
    import time

    x = np.empty((2**36, 0), np.float32)
    args = {
        "relu": (x,),
        "softmax": (x,),
        "bias_add": (x, np.empty(0, np.float32)),
        "relu_backward": (x, x),
    }[fn]
    start = time.perf_counter()
    out = getattr(phase3_c, fn)(*args)
    assert out.shape == (2**36, 0) and time.perf_counter() - start < 1.0
