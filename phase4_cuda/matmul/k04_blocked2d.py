"""Rung 4, blocked2d: rung 3 with 2D register blocking. A block computes a 128 x 128 tile of C
with tiles 8 deep, and each of its 256 threads an 8 x 8 tile of outputs held in registers: per
step of k it reads 8 + 8 values from shared memory for 64 FMAs, a quarter of a shared load per
FMA (Simon Boehm's kernel 5). Threads own strided rows and columns (ty + 16 r, tx + 16 q), so a
warp's shared reads are consecutive or broadcast: no bank conflicts. A is stored transposed in
shared memory (sa[k, m]) so that a thread's 8 values of A at one k are read the same way.

Measured on the H100 at n = 4096: 8.20 TFLOP/s, 16% of cuBLAS SGEMM (`nox -s phase4 -- --sizes
1024 2048 4096 8192`, results/h100-ladder.json). As in rung 3 the signed 64-bit index arithmetic
eats the gain, and 156 registers leave room for one block per SM. Left out: unsigned indices
(rung 5).
"""

from __future__ import annotations

from numba import cuda, float32

from phase4_cuda.kernel_cache import cached
from phase4_cuda.matmul.launch import PlainRung

__all__ = ["RUNG", "matmul_blocked2d"]

# a 128x128 block tile, BK=8, each of 256 threads computes 8x8 outputs
BM4, BN4, BK4, TM4, TN4 = 128, 128, 8, 8, 8
TROWS4, TCOLS4 = BM4 // TM4, BN4 // TN4  # 16 x 16 threads
THREADS4 = TROWS4 * TCOLS4  # 256
LOADS4 = BM4 * BK4 // THREADS4  # 4 elements of each tile loaded per thread


@cached
@cuda.jit(fastmath=True)
def matmul_blocked2d(a, b, c):
    # a: (M, K), b: (K, N), c: (M, N); thread (ty, tx) owns rows ty + 16 r and columns tx + 16 q
    sa = cuda.shared.array((BK4, BM4), float32)  # A stored transposed: sa[k, m]
    sb = cuda.shared.array((BK4, BN4), float32)
    t = cuda.threadIdx.x
    tx, ty = t % TCOLS4, t // TCOLS4
    row0 = cuda.blockIdx.y * BM4
    col0 = cuda.blockIdx.x * BN4
    m, k_dim, n = a.shape[0], a.shape[1], b.shape[1]
    acc = cuda.local.array((TM4, TN4), float32)
    reg_a = cuda.local.array(TM4, float32)
    reg_b = cuda.local.array(TN4, float32)
    for r in range(TM4):
        for q in range(TN4):
            acc[r, q] = 0.0
    for k0 in range(0, k_dim, BK4):
        for l in range(LOADS4):
            e = t + l * THREADS4
            ai, ak = e // BK4, e % BK4  # consecutive threads read consecutive k: coalesced
            gi, gk = row0 + ai, k0 + ak
            sa[ak, ai] = a[gi, gk] if gi < m and gk < k_dim else float32(0.0)
            bk, bj = e // BN4, e % BN4
            gk, gj = k0 + bk, col0 + bj
            sb[bk, bj] = b[gk, gj] if gk < k_dim and gj < n else float32(0.0)
        cuda.syncthreads()
        for kk in range(BK4):
            for r in range(TM4):
                reg_a[r] = sa[kk, ty + r * TROWS4]
            for q in range(TN4):
                reg_b[q] = sb[kk, tx + q * TCOLS4]
            for r in range(TM4):
                for q in range(TN4):
                    acc[r, q] += reg_a[r] * reg_b[q]
        cuda.syncthreads()
    for r in range(TM4):
        i = row0 + ty + r * TROWS4
        for q in range(TN4):
            j = col0 + tx + q * TCOLS4
            if i < m and j < n:
                c[i, j] = acc[r, q]


#: blocks of THREADS4 threads, each block a BM4 x BN4 tile of C
RUNG = PlainRung("blocked2d", matmul_blocked2d, block=THREADS4, tile=(BM4, BN4))
