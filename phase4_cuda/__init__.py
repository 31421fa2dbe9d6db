"""Phase 4: CUDA kernels in numba, from "hello" to a tiled, register-blocked matrix product
measured against cuBLAS, the fused dense layer, and the content-keyed kernel cache (see
README.md for the reading order)."""
