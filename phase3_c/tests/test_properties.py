"""Property-based test (hypothesis): random shapes, strides and dtypes thrown at every binding's
product; each call either matches NumPy (float64 reference) or raises TypeError/ValueError for an
input the rules in phase3_c/inputs.py refuse. Derandomized, so every run sees the same cases."""

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
        elements = st.floats(-10, 10, width=8 * min(dtype.itemsize, 8))
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
    return array


def valid(x) -> bool:
    return x.ndim == 2 and x.dtype.kind in "fiu"


@pytest.mark.parametrize("name", list(phase3_c.BINDINGS))
@settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
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
    expected = a.astype(np.float64) @ b.astype(np.float64)
    assert got.shape == expected.shape
    both_f32 = a.dtype == np.float32 and b.dtype == np.float32
    assert got.dtype == (np.float32 if both_f32 else np.float64)
    scale = max(
        1.0,
        float(np.abs(a.astype(np.float64)).max(initial=0))
        * float(np.abs(b.astype(np.float64)).max(initial=0))
        * a.shape[1],
    )
    tolerance = 1e-5 if both_f32 else 1e-12
    assert np.abs(got - expected).max(initial=0) <= tolerance * scale
