"""Phase 4: CUDA kernels in numba, from "hello" to a tiled, register-blocked matrix product
measured against cuBLAS. Not built yet (issue #4)."""
