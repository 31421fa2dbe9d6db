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


@pytest.mark.parametrize("nesterov", [True, False])
@pytest.mark.parametrize("shape", [(1,), (7,), (1, 1), (13, 17), (784, 64)])
def test_sgd_update_is_phase2s_update_in_one_pass(shape, nesterov, rng):
    """The same float32 operations in the same order as NumPy's: equal to the last bit."""
    from phase2_numpy.network import Params
    from phase2_numpy.train import TrainConfig, sgd_update

    value = rng.standard_normal(shape).astype(np.float32)
    velocity = rng.standard_normal(shape).astype(np.float32)
    grad = rng.standard_normal(shape).astype(np.float32)
    config = TrainConfig(momentum=0.9, nesterov=nesterov, weight_decay=5e-4)
    expected = Params([value.copy()], [], [velocity.copy()], [])
    sgd_update(expected, [grad], [], 0.05, config)
    w, v = value.copy(), velocity.copy()
    assert phase3_c.sgd_update(w, v, grad, 0.05, 0.9, 5e-4, nesterov) is None
    np.testing.assert_array_equal(w, expected.W[0])
    np.testing.assert_array_equal(v, expected.vW[0])
    # grad may come in any layout (it is only read): transposed, byte-swapped
    w2, v2 = value.copy(), velocity.copy()
    odd = np.asfortranarray(grad).astype(grad.dtype.newbyteorder(">"))
    phase3_c.sgd_update(w2, v2, odd, 0.05, 0.9, 5e-4, nesterov)
    np.testing.assert_array_equal(w2, w)


def test_sgd_update_refuses_what_it_cannot_update_in_place():
    w, v, g = (np.ones((4, 3), np.float32) for _ in range(3))
    bad = {
        "read-only": np.ones((4, 3), np.float32),
        "not contiguous": np.ones((4, 6), np.float32)[:, ::2],
        "float64": np.ones((4, 3)),
        "3-D": np.ones((2, 2, 3), np.float32),
        "byte-swapped": np.ones((4, 3), ">f4"),
    }
    bad["read-only"].flags.writeable = False
    for array in bad.values():
        with pytest.raises(ValueError, match="sgd_update: value is updated in place"):
            phase3_c.sgd_update(array, v, g, 0.1, 0.9, 0.0, True)
    with pytest.raises(TypeError, match="must be a NumPy array"):
        phase3_c.sgd_update([[1.0]], v, g, 0.1, 0.9, 0.0, True)
    with pytest.raises(ValueError, match="the same shape"):
        phase3_c.sgd_update(w, v, np.ones((3, 4), np.float32), 0.1, 0.9, 0.0, True)
    with pytest.raises(ValueError, match="the same shape"):
        phase3_c.sgd_update(w, np.ones(12, np.float32), g, 0.1, 0.9, 0.0, True)
    with pytest.raises(ValueError, match="must not share memory"):
        phase3_c.sgd_update(w, w, g, 0.1, 0.9, 0.0, True)
    with pytest.raises(ValueError, match="must not share memory"):
        phase3_c.sgd_update(w, v, v, 0.1, 0.9, 0.0, True)
    np.testing.assert_array_equal(w, np.ones((4, 3)))  # nothing was written on refusal
