"""Helpers for every phase's tests: the odd shapes each implementation is checked on, and a
comparison against a float64 NumPy reference that names the worst element when it fails.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ODD_MATMUL_SHAPES", "ODD_SHAPES", "assert_close", "to_numpy"]

#: (rows, cols): 1x1, a row, a column, non-square, primes.
ODD_SHAPES = [(1, 1), (1, 7), (7, 1), (3, 5), (13, 17), (2, 31)]
#: (m, k, n) of an (m, k) @ (k, n) product.
ODD_MATMUL_SHAPES = [(1, 1, 1), (1, 5, 1), (5, 1, 5), (3, 7, 2), (13, 17, 11), (8, 8, 8)]


def to_numpy(x: Any) -> np.ndarray:
    """A float64 array of a NumPy array, a nested list, or anything with `.tolist()`."""
    if not isinstance(x, np.ndarray) and hasattr(x, "tolist"):
        x = x.tolist()
    return np.asarray(x, dtype=np.float64)


def assert_close(actual: Any, expected: Any, rtol: float = 1e-12, atol: float = 0.0) -> None:
    """Same shape and |actual - expected| <= atol + rtol |expected| everywhere."""
    got, want = to_numpy(actual), to_numpy(expected)
    assert got.shape == want.shape, f"shape {got.shape}, expected {want.shape}"
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
