"""A matrix of floats in pure Python: the reference every faster phase is checked against.

Storage is a list of rows, each a list of floats. Every operation builds a new Matrix (nothing is
modified in place, except through `__setitem__`). The matrix product is the fastest pure Python can
honestly do: transpose the right operand once so both operands are read row by row, then compute
each dot product with a C-implemented builtin (`math.sumprod` on Python 3.12+, otherwise
`sum(map(operator.mul, ...))`). `matmul_naive` keeps the textbook i-j-k loop for comparison.
Deliberately left out: in-place arithmetic, broadcasting beyond "a row vector added to every row",
dtypes other than float, and anything NumPy-fast.
"""

from __future__ import annotations

import math
import numbers
import operator
import random as _random
from collections.abc import Callable, Iterable, Sequence
from typing import Any, overload

__all__ = ["Matrix", "matmul_naive"]

try:
    _dot: Callable[[Sequence[float], Sequence[float]], float] = math.sumprod  # Python 3.12+
except AttributeError:  # pragma: no cover - depends on the interpreter

    def _dot(a: Sequence[float], b: Sequence[float]) -> float:
        return sum(map(operator.mul, a, b))


def _as_float(value: Any, where: str) -> float:
    # bool is an int subclass, but True + True == 2 in a matrix is almost always a bug.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: expected a real number, got {type(value).__name__} {value!r}")
    return float(value)


class Matrix:
    """A rows x cols matrix of floats.

    >>> Matrix([[1, 2], [3, 4]]) @ Matrix.identity(2) == Matrix([[1, 2], [3, 4]])
    True
    """

    __slots__ = ("cols", "data", "rows")

    # -- construction --------------------------------------------------------------------------
    def __init__(self, data: Iterable[Iterable[float]]) -> None:
        """Build from nested sequences; every row must have the same, non-zero length."""
        if isinstance(data, Matrix):
            rows = [list(r) for r in data.data]
        else:
            if isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
                raise TypeError(f"Matrix expects a list of rows, got {type(data).__name__}")
            rows = []
            for i, row in enumerate(data):
                if isinstance(row, (str, bytes)) or not isinstance(row, Iterable):
                    raise TypeError(
                        f"Matrix expects a list of rows; row {i} is a {type(row).__name__}, "
                        "not a list (for a single row write [[...]])"
                    )
                rows.append([_as_float(v, f"element ({i}, {j})") for j, v in enumerate(row)])
        if not rows or not rows[0]:
            raise ValueError("Matrix needs at least one row and one column, got an empty list")
        cols = len(rows[0])
        for i, row in enumerate(rows):
            if len(row) != cols:
                raise ValueError(f"ragged rows: row 0 has {cols} elements, row {i} has {len(row)}")
        self.data: list[list[float]] = rows
        self.rows = len(rows)
        self.cols = cols

    @classmethod
    def _wrap(cls, rows: list[list[float]]) -> Matrix:
        """Adopt already-validated rows of floats without copying or checking (internal use)."""
        m = cls.__new__(cls)
        m.data, m.rows, m.cols = rows, len(rows), len(rows[0])
        return m

    @classmethod
    def full(cls, rows: int, cols: int, value: float) -> Matrix:
        _check_dims(rows, cols)
        value = _as_float(value, "fill value")
        return cls._wrap([[value] * cols for _ in range(rows)])

    @classmethod
    def zeros(cls, rows: int, cols: int) -> Matrix:
        return cls.full(rows, cols, 0.0)

    @classmethod
    def ones(cls, rows: int, cols: int) -> Matrix:
        return cls.full(rows, cols, 1.0)

    @classmethod
    def identity(cls, n: int) -> Matrix:
        _check_dims(n, n)
        return cls._wrap([[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)])

    @classmethod
    def random(
        cls,
        rows: int,
        cols: int,
        low: float = -1.0,
        high: float = 1.0,
        seed: int | None = None,
        rng: _random.Random | None = None,
    ) -> Matrix:
        """Uniform in [low, high), from `rng` or from a new generator seeded with `seed`."""
        _check_dims(rows, cols)
        rng = rng or _random.Random(seed)
        return cls._wrap([[rng.uniform(low, high) for _ in range(cols)] for _ in range(rows)])

    @classmethod
    def gaussian(
        cls, rows: int, cols: int, std: float = 1.0, seed: int | None = None,
        rng: _random.Random | None = None,
    ) -> Matrix:  # fmt: skip
        """Normal with mean 0 and standard deviation `std` (for weight initialisation)."""
        _check_dims(rows, cols)
        rng = rng or _random.Random(seed)
        return cls._wrap([[rng.gauss(0.0, std) for _ in range(cols)] for _ in range(rows)])

    # -- shape, indexing, conversion -----------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, self.cols)

    @overload
    def __getitem__(self, key: tuple[int, int]) -> float: ...
    @overload
    def __getitem__(self, key: int) -> list[float]: ...
    def __getitem__(self, key: int | tuple[int, int]) -> float | list[float]:
        """`m[i, j]` is an element; `m[i]` is a copy of row i."""
        if isinstance(key, tuple):
            i, j = key
            return self.data[i][j]
        return list(self.data[key])

    def __setitem__(self, key: tuple[int, int], value: float) -> None:
        i, j = key
        self.data[i][j] = _as_float(value, f"element ({i}, {j})")

    def tolist(self) -> list[list[float]]:
        return [list(row) for row in self.data]

    def copy(self) -> Matrix:
        return Matrix._wrap(self.tolist())

    def __iter__(self):  # rows, as copies
        return (list(row) for row in self.data)

    def __len__(self) -> int:
        return self.rows

    def __repr__(self) -> str:
        def fmt(row: list[float]) -> str:
            shown = row if len(row) <= 8 else [*row[:3], ..., *row[-3:]]
            return "[" + ", ".join("..." if v is ... else f"{v:.6g}" for v in shown) + "]"

        rows = self.data if self.rows <= 8 else [*self.data[:3], None, *self.data[-3:]]
        body = ",\n        ".join("..." if r is None else fmt(r) for r in rows)
        return f"Matrix([{body}], shape={self.rows}x{self.cols})"

    # -- comparison ----------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        """Exact equality of shape and every element (use `allclose` for a tolerance)."""
        if not isinstance(other, Matrix):
            return NotImplemented
        return self.shape == other.shape and self.data == other.data

    __hash__ = None  # type: ignore[assignment]  # mutable, like list

    def allclose(self, other: Matrix, rel_tol: float = 1e-9, abs_tol: float = 0.0) -> bool:
        """True when shapes match and every pair of elements is `math.isclose`."""
        _require_matrix(other, "allclose")
        if self.shape != other.shape:
            return False
        return all(
            math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)
            for ra, rb in zip(self.data, other.data, strict=True)
            for a, b in zip(ra, rb, strict=True)
        )

    # -- elementwise arithmetic ----------------------------------------------------------------
    def map(self, fn: Callable[[float], float]) -> Matrix:
        """Apply `fn` to every element."""
        return Matrix._wrap([[float(fn(v)) for v in row] for row in self.data])

    apply = map

    def _zip_with(
        self, other: Matrix | float, op: Callable[[float, float], float], name: str
    ) -> Matrix:
        """`op` elementwise with a scalar, a same-shape matrix, or a 1 x cols row (broadcast)."""
        if isinstance(other, Matrix):
            if other.shape == self.shape:
                return Matrix._wrap(
                    [list(map(op, ra, rb)) for ra, rb in zip(self.data, other.data, strict=True)]
                )
            if other.rows == 1 and other.cols == self.cols:  # a bias row added to every row
                row_b = other.data[0]
                return Matrix._wrap([list(map(op, ra, row_b)) for ra in self.data])
            raise ValueError(
                f"{name}: shapes {self.rows}x{self.cols} and {other.rows}x{other.cols} do not match "
                f"(expected {self.rows}x{self.cols}, or 1x{self.cols} to broadcast over rows)"
            )
        s = _as_float(other, name)
        return Matrix._wrap([[op(v, s) for v in row] for row in self.data])

    def __add__(self, other: Matrix | float) -> Matrix:
        return self._zip_with(other, operator.add, "add")

    def __sub__(self, other: Matrix | float) -> Matrix:
        return self._zip_with(other, operator.sub, "subtract")

    def __mul__(self, other: Matrix | float) -> Matrix:
        """Elementwise (Hadamard) product, or scaling by a number. `@` is the matrix product."""
        return self._zip_with(other, operator.mul, "multiply")

    def __truediv__(self, other: Matrix | float) -> Matrix:
        return self._zip_with(other, operator.truediv, "divide")

    def __radd__(self, other: float) -> Matrix:
        return self + other

    def __rmul__(self, other: float) -> Matrix:
        return self * other

    def __rsub__(self, other: float) -> Matrix:
        return (-self) + other

    def __neg__(self) -> Matrix:
        return Matrix._wrap([[-v for v in row] for row in self.data])

    # -- products and reshaping ----------------------------------------------------------------
    @property
    def T(self) -> Matrix:
        return self.transpose()

    def transpose(self) -> Matrix:
        # zip(*rows) walks the columns in C.
        return Matrix._wrap([list(col) for col in zip(*self.data, strict=True)])

    def __matmul__(self, other: Matrix) -> Matrix:
        """Matrix product (rows x k) @ (k x cols): B is transposed once, then each output element
        is one C-level dot product of a row of A with a row of B^T."""
        _require_matrix(other, "matmul")
        if self.cols != other.rows:
            raise ValueError(
                f"matmul: shapes {self.rows}x{self.cols} and {other.rows}x{other.cols} are not "
                f"aligned ({self.cols} != {other.rows})"
            )
        bt = list(zip(*other.data, strict=True))  # the columns of B, as tuples
        dot = _dot
        return Matrix._wrap([[dot(row, col) for col in bt] for row in self.data])

    dot = __matmul__

    def sum(self, axis: int | None = None) -> float | Matrix:
        """All elements (axis=None), each column (axis=0 -> 1 x cols) or each row (axis=1 -> rows x 1)."""
        if axis is None:
            return math.fsum(math.fsum(row) for row in self.data)
        if axis == 0:
            return Matrix._wrap([[math.fsum(col) for col in zip(*self.data, strict=True)]])
        if axis == 1:
            return Matrix._wrap([[math.fsum(row)] for row in self.data])
        raise ValueError(f"axis must be None, 0 or 1, got {axis!r}")

    def mean(self, axis: int | None = None) -> float | Matrix:
        """Like `sum`, divided by the number of elements summed."""
        total = self.sum(axis)
        if axis is None:
            return total / (self.rows * self.cols)  # type: ignore[operator]
        return total * (1.0 / (self.rows if axis == 0 else self.cols))  # type: ignore[operator]

    def max(self, axis: int | None = None) -> float | Matrix:
        if axis is None:
            return max(max(row) for row in self.data)
        if axis == 0:
            return Matrix._wrap([[max(col) for col in zip(*self.data, strict=True)]])
        if axis == 1:
            return Matrix._wrap([[max(row)] for row in self.data])
        raise ValueError(f"axis must be None, 0 or 1, got {axis!r}")

    def argmax(self, axis: int = 1) -> list[int]:
        """Index of the largest element of each row (axis=1) or column (axis=0)."""
        if axis not in (0, 1):
            raise ValueError(f"axis must be 0 or 1, got {axis!r}")
        lines = self.data if axis == 1 else [list(c) for c in zip(*self.data, strict=True)]
        return [max(range(len(line)), key=line.__getitem__) for line in lines]

    def rows_at(self, indices: Iterable[int]) -> Matrix:
        """A new matrix of the given rows (a mini-batch)."""
        rows = [list(self.data[i]) for i in indices]
        if not rows:
            raise ValueError("rows_at: no row indices given")
        return Matrix._wrap(rows)


def matmul_naive(a: Matrix, b: Matrix) -> Matrix:
    """The textbook i-j-k triple loop, kept as the baseline the benchmark compares against."""
    _require_matrix(a, "matmul_naive")
    _require_matrix(b, "matmul_naive")
    if a.cols != b.rows:
        raise ValueError(
            f"matmul_naive: shapes {a.rows}x{a.cols} and {b.rows}x{b.cols} are not aligned"
        )
    A, B = a.data, b.data
    n, k_dim, m = a.rows, a.cols, b.cols
    out = [[0.0] * m for _ in range(n)]
    for i in range(n):
        for j in range(m):
            acc = 0.0
            for k in range(k_dim):
                acc += A[i][k] * B[k][j]
            out[i][j] = acc
    return Matrix._wrap(out)


def _check_dims(rows: int, cols: int) -> None:
    for name, v in (("rows", rows), ("cols", cols)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")


def _require_matrix(x: object, where: str) -> None:
    if not isinstance(x, Matrix):
        raise TypeError(f"{where}: expected a Matrix, got {type(x).__name__}")
