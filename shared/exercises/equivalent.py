"""The surviving mutants judged equivalent, with the reason: a change that cannot alter what
the function returns or does, so no test can kill it (mutation.py leaves them out of the score).
Each is named by its exercise, its function and its change as mutation.py prints it."""

from __future__ import annotations

_BLOCK = "the tile's size changes only the order of the copies, not what is copied where"
_EMPTY_BLOCK = "the one block more starts at the end (i0 == rows) and copies nothing"
_EDGE = "where i0 + BLOCK equals the end, both branches give the same end"

_PADDING = (
    "one tile's padding is multiplied only by the other tile's, which stays 0 past the end of "
    "k; a padded row or column past the edge of c is never stored"
)

_CHECKED = (
    "the C function fails only on arguments the binding has already refused (take<>, the shape "
    "test, aligned_output) and allocates nothing: its status is always NN_OK, so the check "
    "that turns a failure into an exception never fires"
)

#: (exercise, function, change) -> why no test can tell the mutant from the reference
EQUIVALENT: dict[tuple[str, str, str], str] = {
    ("1.2", "_sigmoid", "v >= 0 -> v >= 1"): "for 0 <= v < 1 the other branch, exp(v) / (1 + "
    "exp(v)), is the same sigmoid and cannot overflow there either: the results differ by "
    "rounding alone",
    (
        "3.1",
        "nn_transpose",
        "enum { BLOCK = 32 }; /* 32 x 32 doubles = 8 KiB: a block... -> "
        "enum { BLOCK = 31 }; /* 32 x 32 doubles = 8 KiB: a block...",
    ): _BLOCK,
    (
        "3.1",
        "nn_transpose",
        "for (size_t i0 = 0; i0 < a->rows; i0 += BLOCK) -> "
        "for (size_t i0 = 0; i0 <= a->rows; i0 += BLOCK)",
    ): _EMPTY_BLOCK,
    (
        "3.1",
        "nn_transpose",
        "for (size_t j0 = 0; j0 < a->cols; j0 += BLOCK) { -> "
        "for (size_t j0 = 0; j0 <= a->cols; j0 += BLOCK) {",
    ): _EMPTY_BLOCK,
    (
        "3.1",
        "nn_transpose",
        "size_t i1 = i0 + BLOCK < a->rows ? i0 + BLOCK : a->rows; -> "
        "size_t i1 = i0 + BLOCK <= a->rows ? i0 + BLOCK : a->rows;",
    ): _EDGE,
    (
        "3.1",
        "nn_transpose",
        "size_t j1 = j0 + BLOCK < a->cols ? j0 + BLOCK : a->cols; -> "
        "size_t j1 = j0 + BLOCK <= a->cols ? j0 + BLOCK : a->cols;",
    ): _EDGE,
    ("3.4", "unary", "Py_CLEAR(out); -> (dropped)"): "nn_scale and nn_transpose cannot fail on "
    "what take() and aligned_output() hand them (valid, of matching shapes): the branch that "
    "clears out on a failed status never runs",
    ("1.2", "_relu", "return v if v > 0.0 else 0.0 -> return v if v >= 0.0 else 0.0"): (
        "at v == 0 it returns v, a zero (-0.0 at most, equal to 0.0 in every use), for 0.0"
    ),
    (
        "2.1",
        "sigmoid",
        "np.where(z >= 0, 1 / (1 + e), e / (1 + e)) -> np.where(z > 0, 1 / (1 + e), e / (1 + e))",
    ): "at z == 0, e is 1 and both branches are exactly 1/2",
    (
        "4.4",
        "matmul_tiled",
        "a[i, k0 + tx] if i < m and k0 + tx < k_dim else float32(0.0) -> "
        "a[i, k0 + tx] if i < m and k0 + tx < k_dim else float32(1.0)",
    ): _PADDING,
    (
        "4.4",
        "matmul_tiled",
        "b[k0 + ty, j] if k0 + ty < k_dim and j < n else float32(0.0) -> "
        "b[k0 + ty, j] if k0 + ty < k_dim and j < n else float32(1.0)",
    ): _PADDING,
    ("3.3", "product64", "check(s, what); -> (dropped)"): _CHECKED,
    ("3.3", "matmul_f32", 'check(s, "matmul_f32"); -> (dropped)'): _CHECKED,
    ("3.3", "scale", 'check(st, "scale"); -> (dropped)'): _CHECKED,
    ("3.3", "transpose", 'check(st, "transpose"); -> (dropped)'): _CHECKED,
}


def judged(exercise: str, function: str, change: str) -> str | None:
    """Why the mutant is equivalent, or None where it has not been judged so."""
    return EQUIVALENT.get((exercise, function, change))
