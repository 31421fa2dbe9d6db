"""Property-based test (hypothesis): random shapes, strides and dtypes thrown at every binding's
product, as byte-swapped, read-only, broadcast and misaligned arrays too, with NaN and infinities
among the floats; each call either matches NumPy (float64 reference, NaN where NumPy has NaN) or
raises TypeError/ValueError for an input the rules in phase3_c/inputs.py refuse. Derandomized,
so every run sees the same cases."""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import phase3_c

# mostly the real dtypes the bindings accept, some they refuse (bool, complex)
DTYPES = (
    [np.float64] * 3
    + [np.float32] * 3
    + [np.float16, np.int64, np.int32, np.uint8, np.bool_, np.complex64]
)


@st.composite
def operand(draw, rows=None, cols=None):
    """A 1-D, 2-D or 3-D array of some dtype, possibly a strided, transposed or reversed view."""
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    ndim = draw(st.sampled_from([2] * 8 + [1, 3]))
    shape = [draw(st.integers(0, 9)) for _ in range(ndim)]
    if ndim == 2:
        shape = [rows if rows is not None else shape[0], cols if cols is not None else shape[1]]
    base_shape = [2 * max(shape) + 1] * ndim  # room for a step-2 view or a transposed one
    if dtype.kind == "b":
        elements = st.booleans()
    elif dtype.kind == "c":
        elements = st.complex_numbers(max_magnitude=10, allow_nan=False, allow_infinity=False)
    elif dtype.kind == "f":
        width = 8 * min(dtype.itemsize, 8)
        elements = st.floats(-10, 10, width=width)
        if draw(st.integers(0, 4)) == 0:  # now and then NaN and infinities among them
            elements = st.one_of(elements, st.sampled_from([np.nan, np.inf, -np.inf]))
    else:
        elements = st.integers(0 if dtype.kind == "u" else -50, 50)
    base = draw(hnp.arrays(dtype, base_shape, elements=elements))
    view = draw(st.sampled_from(["plain", "step", "reverse", "transpose"]))
    index = tuple(slice(0, n) for n in shape)
    if view == "step":
        index = tuple(slice(0, 2 * n, 2) for n in shape)
    array = base[index]
    if view == "reverse":
        array = array[::-1]
    if view == "transpose" and ndim == 2:
        array = (
            np.ascontiguousarray(array.T).T[: shape[0], : shape[1]]
            if shape[0] == shape[1]
            else array
        )
    return twisted(array, draw(st.sampled_from(TWISTS)))


TWISTS = ["none"] * 4 + ["byteswap", "readonly", "broadcast", "misaligned"]


def twisted(array: np.ndarray, twist: str) -> np.ndarray:
    """The same values in a form a C library can get wrong."""
    if twist == "byteswap":  # the other byte order ('>f8' on this machine)
        return array.astype(array.dtype.newbyteorder())
    if twist == "readonly":
        array = array.view()
        array.flags.writeable = False
        return array
    if twist == "broadcast" and array.ndim == 2 and array.shape[0] > 0:  # stride 0, read-only
        return np.broadcast_to(array[:1], array.shape)
    if twist == "misaligned" and array.itemsize > 1 and array.size:  # one byte into a buffer
        raw = np.frombuffer(b"\0" + np.ascontiguousarray(array).tobytes(), np.uint8)
        return raw[1:].view(array.dtype).reshape(array.shape)
    return array


def valid(x) -> bool:
    return x.ndim == 2 and x.dtype.kind in "fiu"


@pytest.mark.parametrize("name", list(phase3_c.BINDINGS))
@settings(
    max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(data=st.data())
def test_matmul_matches_numpy_or_refuses(name, data):
    binding = phase3_c.BINDINGS[name]
    a = data.draw(operand(), label="a")
    aligned = valid(a) and data.draw(st.sampled_from([True, True, True, False]), label="aligned")
    b = data.draw(operand(rows=a.shape[1] if aligned else None), label="b")
    ok = valid(a) and valid(b) and a.shape[1] == b.shape[0]
    if not ok:
        with pytest.raises((TypeError, ValueError)):
            binding.matmul(a, b)
        return
    got = binding.matmul(a, b)
    with np.errstate(invalid="ignore", over="ignore"):  # inf * 0 and inf - inf: NaN, as expected
        expected = a.astype(np.float64) @ b.astype(np.float64)
    assert got.shape == expected.shape
    both_f32 = all(x.dtype.kind == "f" and x.dtype.itemsize == 4 for x in (a, b))  # '>f4' too
    assert got.dtype == (np.float32 if both_f32 else np.float64)

    def largest(x):
        x = np.abs(x.astype(np.float64))
        return float(x[np.isfinite(x)].max(initial=0))

    scale = max(1.0, largest(a) * largest(b) * a.shape[1])
    tolerance = 1e-5 if both_f32 else 1e-12
    # where NumPy gets NaN or an infinity, so must the binding (whether a sum of products is NaN
    # or infinite does not depend on the order of the additions); elsewhere, close
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_array_equal(got[np.isinf(expected)], expected[np.isinf(expected)])
    finite = np.isfinite(expected)
    assert np.abs(got[finite] - expected[finite]).max(initial=0) <= tolerance * scale
