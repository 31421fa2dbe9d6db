"""Rung 3, blocked1d: rung 2 with 1D register blocking. A block computes a 64 x 64 tile of C
with tiles of A and B 8 deep (BK) in shared memory, and each of its 512 threads computes 8
outputs of one column (TM): a value of B read from shared memory is reused 8 times from a
register, 9 shared loads for 8 FMAs instead of 16 (Simon Boehm's kernel 4).

Measured on the H100 at n = 4096: 7.60 TFLOP/s, 15% of cuBLAS SGEMM, no faster than rung 2
(`nox -s phase4 -- --sizes 1024 2048 4096 8192`, results/h100-ladder.json): written the way numba
reads it, the index fix-ups of signed 64-bit indices eat the gain (rung 5 removes them). Left
out: blocking in both directions (rung 4).
"""

from __future__ import annotations

from numba import cuda, float32

from phase4_cuda.kernel_cache import cached
from phase4_cuda.matmul.launch import PlainRung

__all__ = ["RUNG", "matmul_blocked1d"]

# a 64x64 block tile, BK=8, each of 512 threads computes 8 rows of a column
BM3, BN3, BK3, TM3 = 64, 64, 8, 8
THREADS3 = BM3 * BN3 // TM3  # 512: one element of each shared tile loaded per thread


@cached
@cuda.jit(fastmath=True)
def matmul_blocked1d(a, b, c):
    # a: (M, K), b: (K, N), c: (M, N)
    sa = cuda.shared.array((BM3, BK3), float32)
    sb = cuda.shared.array((BK3, BN3), float32)
    t = cuda.threadIdx.x
    row0 = cuda.blockIdx.y * BM3
    col0 = cuda.blockIdx.x * BN3
    col = t % BN3  # this thread's column in the tile
    rows = (t // BN3) * TM3  # its first row; it owns rows rows .. rows + TM3 - 1
    ar, ac = t // BK3, t % BK3  # the element of the A tile it loads
    br, bc = t // BN3, t % BN3  # the element of the B tile it loads
    m, k_dim, n = a.shape[0], a.shape[1], b.shape[1]
    acc = cuda.local.array(TM3, float32)
    for r in range(TM3):
        acc[r] = 0.0
    for k0 in range(0, k_dim, BK3):
        gi, gk = row0 + ar, k0 + ac
        sa[ar, ac] = a[gi, gk] if gi < m and gk < k_dim else float32(0.0)
        gk, gj = k0 + br, col0 + bc
        sb[br, bc] = b[gk, gj] if gk < k_dim and gj < n else float32(0.0)
        cuda.syncthreads()
        for kk in range(BK3):
            bv = sb[kk, col]  # read once, used TM3 times
            for r in range(TM3):
                acc[r] += sa[rows + r, kk] * bv
        cuda.syncthreads()
    j = col0 + col
    for r in range(TM3):
        i = row0 + rows + r
        if i < m and j < n:
            c[i, j] = acc[r]


#: blocks of THREADS3 threads, each block a BM3 x BN3 tile of C
RUNG = PlainRung("blocked1d", matmul_blocked1d, block=THREADS3, tile=(BM3, BN3))
