"""What Phase 3's Python bindings accept, decided in one place so that every binding behaves the
same (the bindings differ only in how they cross into C).

- NumPy arrays with 2 dimensions, and Phase 1 `Matrix` objects (copied into a float64 array).
- float64 functions take any real dtype: integers and float32 are converted to float64 (exact).
  The float32 product takes float32 only (in either byte order): rounding float64 down would
  silently lose precision.
- Layout: arrays whose rows are contiguous (a C-contiguous array, or a view that slices whole
  rows or a block of one) are passed without a copy, with their row stride. Anything else
  (transposed, every other column, negative strides, broadcast, the other byte order, data not
  aligned to its element size) is copied to a C-contiguous array first, which costs one pass
  over the data and is cheap next to a product. Read-only arrays are fine: C only reads inputs.
- Complex, boolean or object arrays, wrong dimensions and mismatched shapes raise TypeError or
  ValueError naming what was expected and what came.
"""

from __future__ import annotations

import numpy as np

__all__ = ["aligned_empty", "check_product", "check_same_shape", "is_float32", "prepare"]


def is_float32(dtype: np.dtype) -> bool:
    """float32 in either byte order: '>f4' holds float32 values too, and gets the float32 product."""
    return dtype.kind == "f" and dtype.itemsize == 4


def prepare(x: object, name: str, dtype: type = np.float64) -> np.ndarray:
    """`x` as a 2-D array of `dtype` whose rows are contiguous (see the module docstring)."""
    from phase1_python.matrix import Matrix

    if isinstance(x, Matrix):
        x = np.array(x.data, dtype=np.float64)
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"{name}: expected a NumPy array or a phase1_python Matrix, got {type(x).__name__}"
        )
    if x.ndim != 2:
        raise ValueError(f"{name}: expected 2 dimensions, got shape {x.shape}")
    if x.dtype.kind not in "fiu":
        raise TypeError(f"{name}: expected real numbers, got dtype {x.dtype}")
    if x.dtype != dtype:
        if dtype == np.float32 and not is_float32(x.dtype):
            raise TypeError(
                f"{name}: the float32 product needs float32 arrays, got {x.dtype} "
                "(convert with .astype(np.float32), or use the float64 product)"
            )
        x = x.astype(dtype)
    item = x.itemsize
    if x.ctypes.data % item:  # a view into a byte buffer: C reads its elements aligned
        return np.ascontiguousarray(x.copy())
    rows_contiguous = (
        x.strides[1] == item and x.strides[0] % item == 0 and x.strides[0] >= x.shape[1] * item
    )
    if not rows_contiguous and x.shape[0] > 1:
        x = np.ascontiguousarray(x)
    elif x.strides[1] != item and x.shape[1] > 1:
        x = np.ascontiguousarray(x)
    return x


def row_stride(x: np.ndarray) -> int:
    """The row stride in elements, as the C library takes it (at least the row length)."""
    return max(x.strides[0] // x.itemsize, x.shape[1]) if x.shape[0] > 1 else x.shape[1]


def aligned_empty(shape: tuple[int, int], dtype: type = np.float64, align: int = 64) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on an `align`-byte boundary.

    The micro-kernel stores rows of C 32 bytes at a time; NumPy's large arrays come from mmap at
    a page plus 16 bytes, so every row store would straddle two cache lines. Outputs therefore
    start on a cache line (measured: 47 -> 54 GFLOP/s at n = 2048, float64, one thread)."""
    itemsize = np.dtype(dtype).itemsize
    count = max(int(np.prod(shape)), 1)
    raw = np.empty(count + align // itemsize, dtype=dtype)
    offset = (-raw.ctypes.data % align) // itemsize
    return raw[offset : offset + int(np.prod(shape))].reshape(shape)


def check_product(a: np.ndarray, b: np.ndarray, what: str = "matmul") -> None:
    if a.shape[1] != b.shape[0]:
        raise ValueError(
            f"{what}: shapes {a.shape} and {b.shape} are not aligned ({a.shape[1]} != {b.shape[0]})"
        )


def check_same_shape(a: np.ndarray, b: np.ndarray, what: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{what}: shapes {a.shape} and {b.shape} differ")
