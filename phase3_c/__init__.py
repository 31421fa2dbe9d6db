"""Phase 3: a matrix library in C (packed, register-blocked, AVX2/FMA product), bound to Python
three ways: a CPython C-API extension, ctypes, and pybind11. Not built yet (issue #3)."""
