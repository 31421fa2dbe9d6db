"""Matrix against NumPy (float64) on odd shapes, plus its error messages."""

import math

import numpy as np
import pytest

from phase1_python import Matrix, matmul_naive
from shared.testing import ODD_MATMUL_SHAPES, ODD_SHAPES, to_numpy
from shared.testing import assert_close as assert_matches

#: the tests `python -m shared.exercises check 1.1` runs against the learner's file
pytestmark = pytest.mark.exercise(id="1.1")


@pytest.mark.parametrize("shape", ODD_SHAPES)
def test_elementwise_ops_match_numpy(shape, rng):
    a_np, b_np = rng.standard_normal(shape), rng.standard_normal(shape)
    a, b = Matrix(a_np.tolist()), Matrix(b_np.tolist())
    assert_matches(a + b, a_np + b_np)
    assert_matches(a - b, a_np - b_np)
    assert_matches(a * b, a_np * b_np)
    assert_matches(a / (b * b + 1.0), a_np / (b_np * b_np + 1.0))
    assert_matches(a * 2.5, a_np * 2.5)
    assert_matches(3 * a, 3 * a_np)
    assert_matches(a + 1, a_np + 1)
    assert_matches(1 + a, 1 + a_np)
    assert_matches(1 - a, 1 - a_np)
    assert_matches(-a, -a_np)
    assert_matches(a.map(math.exp), np.exp(a_np))
    assert_matches(a.apply(abs), np.abs(a_np))


@pytest.mark.parametrize("m,k,n", ODD_MATMUL_SHAPES)
def test_matmul_matches_numpy(m, k, n, rng):
    a_np, b_np = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    a, b = Matrix(a_np.tolist()), Matrix(b_np.tolist())
    expected = a_np @ b_np
    assert_matches(a @ b, expected)
    assert_matches(a.dot(b), expected)
    assert_matches(matmul_naive(a, b), expected)


def test_accepts_numpy_arrays_including_non_contiguous(rng):
    base = rng.standard_normal((9, 12))
    view = base[::2, ::3]  # a strided, non-contiguous view
    assert not view.flags.c_contiguous
    assert_matches(Matrix(view), view)
    assert_matches(Matrix(base.T), base.T)


@pytest.mark.parametrize("shape", ODD_SHAPES)
def test_transpose_sums_means(shape, rng):
    a_np = rng.standard_normal(shape)
    a = Matrix(a_np.tolist())
    assert_matches(a.T, a_np.T)
    assert_matches(a.transpose().transpose(), a_np)
    assert math.isclose(a.sum(), a_np.sum(), rel_tol=1e-12)
    assert_matches(a.sum(axis=0), a_np.sum(axis=0, keepdims=True))
    assert_matches(a.sum(axis=1), a_np.sum(axis=1, keepdims=True))
    assert math.isclose(a.mean(), a_np.mean(), rel_tol=1e-12)
    assert_matches(a.mean(axis=0), a_np.mean(axis=0, keepdims=True))
    assert_matches(a.mean(axis=1), a_np.mean(axis=1, keepdims=True))
    assert a.max() == a_np.max()
    assert_matches(a.max(axis=0), a_np.max(axis=0, keepdims=True))
    assert_matches(a.max(axis=1), a_np.max(axis=1, keepdims=True))
    assert a.argmax(axis=1) == a_np.argmax(axis=1).tolist()
    assert a.argmax(axis=0) == a_np.argmax(axis=0).tolist()


def test_row_vector_broadcasts_over_rows(rng):
    a_np, bias = rng.standard_normal((5, 3)), rng.standard_normal((1, 3))
    assert_matches(Matrix(a_np) + Matrix(bias), a_np + bias)


def test_constructors():
    assert Matrix.zeros(2, 3).tolist() == [[0.0] * 3] * 2
    assert Matrix.ones(3, 1).tolist() == [[1.0]] * 3
    assert_matches(Matrix.identity(4), np.eye(4))
    r1, r2 = Matrix.random(4, 5, seed=7), Matrix.random(4, 5, seed=7)
    assert r1 == r2 and r1 != Matrix.random(4, 5, seed=8)
    assert all(-1 <= v < 1 for row in r1 for v in row)
    g = Matrix.gaussian(200, 50, std=0.5, seed=1)
    assert abs(to_numpy(g).std() - 0.5) < 0.01


def test_shape_indexing_copy_and_repr():
    m = Matrix([[1, 2, 3], [4, 5, 6]])
    assert m.shape == (2, 3) and len(m) == 2
    assert m[1, 2] == 6.0 and m[0] == [1.0, 2.0, 3.0]
    c = m.copy()
    c[0, 0] = 10
    assert m[0, 0] == 1.0 and c[0, 0] == 10.0
    row = m[0]
    row[0] = 99
    assert m[0, 0] == 1.0, "m[i] must return a copy"
    built, lists = Matrix(m), [[1.0, 2.0]]
    built[0, 0] = 7
    assert m[0, 0] == 1.0, "Matrix(another Matrix) must copy its rows, not share them"
    Matrix(lists)[0, 0] = 7
    assert lists[0][0] == 1.0, "Matrix(rows) must copy the rows, not share them"
    assert "shape=2x3" in repr(m) and "[1, 2, 3]" in repr(m)
    assert "..." in repr(Matrix.zeros(20, 20))


def test_equality_exact_and_with_tolerance():
    a = Matrix([[1.0, 2.0]])
    b = Matrix([[1.0, 2.0 + 1e-12]])
    assert a == Matrix([[1, 2]])
    assert a != b
    assert a.allclose(b, rel_tol=1e-9)
    assert not a.allclose(b, rel_tol=1e-14)
    assert not a.allclose(Matrix([[1.0], [2.0]]))
    assert (a == [[1.0, 2.0]]) is False  # a Matrix never equals a plain list


@pytest.mark.parametrize(
    "data,exc,words",
    [
        ([[1, 2], [3]], ValueError, ["ragged", "2", "1"]),
        ([], ValueError, ["empty"]),
        ([[]], ValueError, ["empty"]),
        ([[1, "2"]], TypeError, ["real number", "str"]),
        ([[1, None]], TypeError, ["NoneType"]),
        ([[True, 0]], TypeError, ["bool"]),
        ([1, 2, 3], TypeError, ["row 0", "[[...]]"]),
        ("abc", TypeError, ["list of rows"]),
        (5, TypeError, ["list of rows"]),
    ],
    ids=["ragged", "empty", "empty-row", "str", "None", "bool", "flat-list", "string", "int"],
)
def test_bad_construction_is_rejected_with_a_clear_message(data, exc, words):
    with pytest.raises(exc) as info:
        Matrix(data)
    for word in words:
        assert word in str(info.value)


def test_shape_mismatch_messages_name_both_shapes():
    a, b = Matrix.zeros(2, 3), Matrix.zeros(4, 5)
    with pytest.raises(ValueError, match=r"2x3 and 4x5"):
        a @ b
    with pytest.raises(ValueError, match=r"2x3 and 4x5"):
        matmul_naive(a, b)
    with pytest.raises(ValueError, match=r"2x3 and 4x5"):
        a + b
    with pytest.raises(ValueError, match=r"2x3 and 4x5"):
        a * b
    with pytest.raises(TypeError, match="Matrix"):
        a @ [[1.0]]
    with pytest.raises(TypeError, match="str"):
        a + "x"
    with pytest.raises(ValueError, match="axis"):
        a.sum(axis=2)
    with pytest.raises(ValueError, match="axis"):
        a.max(axis=2)
    with pytest.raises(TypeError, match="matmul_naive: expected a Matrix, got list"):
        matmul_naive([[1.0]], a)
    with pytest.raises(ValueError, match="rows must be a positive int"):
        Matrix.gaussian(0, 3)
    with pytest.raises(TypeError, match="fill value"):
        Matrix.full(2, 2, "x")
    with pytest.raises(ValueError, match="rows must be a positive int"):
        Matrix.zeros(0, 3)
