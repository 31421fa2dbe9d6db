"""Rung 1, naive: one thread per output element, the product as the definition writes it.

C = A @ B with A (M, K), B (K, N), C (M, N), all row-major float32; every rung handles any shape
(edges are guarded). threadIdx.x runs along a row of C, so at each step of k a warp reads 32
consecutive elements of B (one coalesced transaction) and one element of A (a broadcast). Each
output reads a row of A and a column of B: 2 n^3 loads for n^3 multiply-adds, no reuse but what
the caches give.

Measured on the H100 at n = 4096: 1.36 TFLOP/s, 3% of cuBLAS SGEMM (`nox -s phase4 -- --sizes
1024 2048 4096 8192`, results/h100-ladder.json). Left out: any reuse of a loaded value (rung 2).
"""

from __future__ import annotations

from numba import cuda, float32

from phase4_cuda.kernel_cache import cached
from phase4_cuda.matmul.launch import PlainRung

__all__ = ["RUNG", "matmul_naive"]


@cached
@cuda.jit(fastmath=True)
def matmul_naive(a, b, c):
    # a: (M, K), b: (K, N), c: (M, N); one thread per c[i, j]
    j = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    i = cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y
    if i < c.shape[0] and j < c.shape[1]:
        acc = float32(0.0)
        for k in range(a.shape[1]):
            acc += a[i, k] * b[k, j]
        c[i, j] = acc


#: blocks of 32 x 8 threads (x along a row of C), each block 8 rows x 32 columns of C
RUNG = PlainRung("naive", matmul_naive, block=(32, 8), tile=(8, 32))
