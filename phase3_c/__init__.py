"""Phase 3: a matrix library in C (include/matrix.h, src/), bound to Python.

The C library has a packed, register-blocked product with AVX2/FMA micro-kernels chosen at run
time and a portable fallback. Bindings: `ctypes_binding` (ctypes over the shared library) today;
the CPython C-API and pybind11 bindings are still to come (issue #3). `matmul` and friends here
are the ctypes binding's.
"""

from phase3_c import ctypes_binding
from phase3_c.ctypes_binding import (
    add,
    kernel_name,
    matmul,
    matmul_f32,
    matmul_ikj,
    matmul_naive,
    max_threads,
    mul,
    scale,
    set_kernel,
    sub,
    transpose,
)

#: Every binding, by name, for tests and benchmarks that compare them.
BINDINGS = {"ctypes": ctypes_binding}

__all__ = [
    "BINDINGS",
    "add",
    "kernel_name",
    "matmul",
    "matmul_f32",
    "matmul_ikj",
    "matmul_naive",
    "max_threads",
    "mul",
    "scale",
    "set_kernel",
    "sub",
    "transpose",
]
