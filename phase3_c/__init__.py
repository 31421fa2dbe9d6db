"""Phase 3: a matrix library in C (include/matrix.h, src/), bound to Python.

The C library has a packed, register-blocked product with AVX-512 and AVX2/FMA micro-kernels
chosen at run time and a portable fallback. Three bindings expose the same functions, one way
each: `_capi` (a hand-written CPython C-API module), `ctypes_binding` (ctypes over the shared
library) and `_pybind` (pybind11). `matmul` and friends here are the C-API binding's, the
cheapest to call; so are the float32 row kernels of a dense layer (bias_add, relu,
relu_backward, softmax, sum, and the in-place sgd_update) for Phase 5's CPU trainer. Each binding carries its own copy of
the library, so `set_kernel` and `set_threads` here set the C-API binding's.
"""

from phase3_c import _capi, _pybind, ctypes_binding
from phase3_c._capi import (
    add,
    bias_add,
    kernel_name,
    matmul,
    matmul_f32,
    matmul_ikj,
    matmul_naive,
    mul,
    relu,
    relu_backward,
    scale,
    set_kernel,
    set_threads,
    sgd_update,
    softmax,
    sub,
    sum,
    threads,
    transpose,
)

#: Every binding, by name, for tests and benchmarks that compare them.
BINDINGS = {"capi": _capi, "ctypes": ctypes_binding, "pybind11": _pybind}

__all__ = [
    "BINDINGS",
    "add",
    "bias_add",
    "kernel_name",
    "matmul",
    "matmul_f32",
    "matmul_ikj",
    "matmul_naive",
    "mul",
    "relu",
    "relu_backward",
    "scale",
    "set_kernel",
    "set_threads",
    "sgd_update",
    "softmax",
    "sub",
    "sum",
    "threads",
    "transpose",
]
