"""Binding 2 of 3: ctypes over libnnmatrix.so (.dylib on macOS, .dll on Windows), the C library
built as a shared object and installed inside this package.

ctypes needs no compiler and no C code of its own: Python describes each C function's argument
and return types (`argtypes`, `restype`, declared below for every function), and ctypes converts
at each call. That conversion is what makes a ctypes call slower than a C-API one (see the
per-call costs in README.md). ctypes releases the GIL for the duration of every foreign call. The
library is found with importlib.resources, which also works in an editable install, where it
lives in the build folder rather than beside this file. Inputs follow `phase3_c.inputs`.
"""

from __future__ import annotations

import ctypes
import importlib.resources
import operator
import sys
from functools import cache

import numpy as np

from phase3_c.inputs import (
    aligned_empty,
    check_product,
    check_same_shape,
    is_float32,
    prepare,
    row_stride,
)

__all__ = [
    "add",
    "kernel_name",
    "matmul",
    "matmul_f32",
    "matmul_ikj",
    "matmul_naive",
    "mul",
    "scale",
    "set_kernel",
    "set_threads",
    "sub",
    "threads",
    "transpose",
]  # fmt: skip

NAME = "ctypes"
#: The names meson gives the shared library: libnnmatrix.dylib on macOS, nnmatrix.dll (MSVC) or
#: libnnmatrix.dll (MinGW-w64) on Windows, libnnmatrix.so elsewhere.
_LIBNAMES = {"darwin": ("libnnmatrix.dylib",), "win32": ("nnmatrix.dll", "libnnmatrix.dll")}.get(
    sys.platform, ("libnnmatrix.so",)
)


class _Matrix(ctypes.Structure):
    _fields_ = [
        ("rows", ctypes.c_size_t),
        ("cols", ctypes.c_size_t),
        ("stride", ctypes.c_size_t),
        ("data", ctypes.POINTER(ctypes.c_double)),
    ]


class _MatrixF32(ctypes.Structure):
    _fields_ = [
        ("rows", ctypes.c_size_t),
        ("cols", ctypes.c_size_t),
        ("stride", ctypes.c_size_t),
        ("data", ctypes.POINTER(ctypes.c_float)),
    ]


_M, _MF = ctypes.POINTER(_Matrix), ctypes.POINTER(_MatrixF32)
_SIGNATURES = {
    "nn_status_str": ([ctypes.c_int], ctypes.c_char_p),
    "nn_add": ([_M, _M, _M], ctypes.c_int),
    "nn_sub": ([_M, _M, _M], ctypes.c_int),
    "nn_mul": ([_M, _M, _M], ctypes.c_int),
    "nn_scale": ([_M, ctypes.c_double, _M], ctypes.c_int),
    "nn_transpose": ([_M, _M], ctypes.c_int),
    "nn_matmul_naive": ([_M, _M, _M], ctypes.c_int),
    "nn_matmul_ikj": ([_M, _M, _M], ctypes.c_int),
    "nn_matmul": ([_M, _M, _M], ctypes.c_int),
    "nn_matmul_f32": ([_MF, _MF, _MF], ctypes.c_int),
    "nn_kernel_name": ([], ctypes.c_char_p),
    "nn_set_kernel": ([ctypes.c_char_p], ctypes.c_int),
    "nn_kernels_supported": ([], ctypes.c_char_p),
    "nn_threads": ([], ctypes.c_int),
    "nn_set_threads": ([ctypes.c_int], ctypes.c_int),
}


@cache
def _lib() -> ctypes.CDLL:
    package = importlib.resources.files("phase3_c")
    for name in _LIBNAMES:
        with importlib.resources.as_file(package / name) as path:
            if path.exists():
                lib = ctypes.CDLL(str(path))
                break
    else:
        raise ImportError(
            f"{' or '.join(_LIBNAMES)} is not in the phase3_c package ({package}): rebuild it"
        )
    for name, (argtypes, restype) in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = argtypes, restype
    return lib


_ERRORS = {1: ValueError, 2: ValueError, 3: MemoryError, 4: ValueError}


def _check(status: int, what: str) -> None:
    if status:
        message = _lib().nn_status_str(status).decode()
        raise _ERRORS.get(status, RuntimeError)(f"{what}: {message}")


def _wrap(x: np.ndarray) -> ctypes.Structure:
    struct, ctype = (
        (_MatrixF32, ctypes.c_float) if x.dtype == np.float32 else (_Matrix, ctypes.c_double)
    )
    return struct(x.shape[0], x.shape[1], row_stride(x), x.ctypes.data_as(ctypes.POINTER(ctype)))


def _product(fn_name: str, a, b, dtype=np.float64) -> np.ndarray:
    a, b = prepare(a, "a", dtype), prepare(b, "b", dtype)
    check_product(a, b)
    out = aligned_empty((a.shape[0], b.shape[1]), dtype)
    _check(getattr(_lib(), fn_name)(_wrap(a), _wrap(b), _wrap(out)), fn_name)
    return out


def matmul(a, b) -> np.ndarray:
    """a @ b with the packed C product: in float32 when both are float32, else in float64."""
    both_f32 = all(isinstance(x, np.ndarray) and is_float32(x.dtype) for x in (a, b))
    return matmul_f32(a, b) if both_f32 else _product("nn_matmul", a, b)


def matmul_f32(a, b) -> np.ndarray:
    return _product("nn_matmul_f32", a, b, np.float32)


def matmul_naive(a, b) -> np.ndarray:
    return _product("nn_matmul_naive", a, b)


def matmul_ikj(a, b) -> np.ndarray:
    return _product("nn_matmul_ikj", a, b)


def _elementwise(fn_name: str, a, b) -> np.ndarray:
    a, b = prepare(a, "a"), prepare(b, "b")
    check_same_shape(a, b, fn_name)
    out = np.empty(a.shape)
    _check(getattr(_lib(), fn_name)(_wrap(a), _wrap(b), _wrap(out)), fn_name)
    return out


def add(a, b) -> np.ndarray:
    return _elementwise("nn_add", a, b)


def sub(a, b) -> np.ndarray:
    return _elementwise("nn_sub", a, b)


def mul(a, b) -> np.ndarray:
    return _elementwise("nn_mul", a, b)


def scale(a, s: float) -> np.ndarray:
    a = prepare(a, "a")
    out = np.empty(a.shape)
    _check(_lib().nn_scale(_wrap(a), float(s), _wrap(out)), "nn_scale")
    return out


def transpose(a) -> np.ndarray:
    a = prepare(a, "a")
    out = np.empty((a.shape[1], a.shape[0]))
    _check(_lib().nn_transpose(_wrap(a), _wrap(out)), "nn_transpose")
    return out


def kernel_name() -> str:
    """The micro-kernel the packed product uses: 'avx512', 'avx2', 'neon' or 'generic'."""
    return _lib().nn_kernel_name().decode()


def set_kernel(name: str) -> None:
    """Force 'avx512', 'avx2', 'neon' or 'generic' (or 'auto'); ValueError if unknown or not
    supported here."""
    if not isinstance(name, str):
        raise TypeError(f"set_kernel: expected a str, got {type(name).__name__}")
    if "\0" in name:  # C would read only up to the NUL: "auto\0x" would be taken as "auto"
        raise ValueError(f"set_kernel: {name!r} holds a NUL character")
    status = _lib().nn_set_kernel(name.encode())
    if status:
        supported = _lib().nn_kernels_supported().decode()
        raise ValueError(
            f"set_kernel: {name!r} is unknown or not supported on this CPU (it runs: {supported})"
        )


def threads() -> int:
    """Threads the packed product runs on, the calling thread included."""
    return _lib().nn_threads()


def set_threads(n: int) -> None:
    """Run the packed product on n threads (0: the default); ValueError outside 0-256."""
    n = operator.index(n)  # TypeError for what is not a whole number (a float, None)
    # checked here: ctypes would pass 2**63 or 2**32 + 4 to the C int as 0 or 4, without a word
    if not 0 <= n <= 256 or _lib().nn_set_threads(n):
        raise ValueError(f"set_threads: need 0 (the default) to 256 threads, got {n}")
