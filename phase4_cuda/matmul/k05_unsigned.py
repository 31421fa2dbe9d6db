"""Rung 5, unsigned: rung 4 with flat arrays and unsigned 32-bit index arithmetic, the biggest
step of the ladder. numba indexes arrays with signed 64-bit integers and supports negative
indices, so every `s[i]` with a signed i compiles to a wraparound fix-up
(`i + (i < 0 ? len : 0)`), and `//` and `%` get Python's floor semantics (more fix-ups). Cast
indices to uint32 and build them only from unsigned values and unsigned constants: the fix-ups
vanish and LLVM folds the unrolled offsets into the loads (`ld.shared.f32 [%rd11+128]`; the PTX
excerpt is in README.md). Everything else is as in rung 4: the same tiles, loads and loops.

Measured on the H100 at n = 4096: 27.3 TFLOP/s, 53% of cuBLAS SGEMM, 3.3x rung 4, with 126
registers instead of 156, so two blocks per SM (`nox -s phase4 -- --sizes 1024 2048 4096 8192`,
results/h100-ladder.json). Left out: overlapping the loads with the arithmetic (rung 6).
"""

from __future__ import annotations

import numpy as np
from numba import cuda, float32, uint32

from phase4_cuda.kernel_cache import cached
from phase4_cuda.matmul.k04_blocked2d import (
    BK4,
    BM4,
    BN4,
    LOADS4,
    TCOLS4,
    THREADS4,
    TM4,
    TN4,
    TROWS4,
)
from phase4_cuda.matmul.launch import PlainRung

__all__ = ["RUNG", "matmul_unsigned"]

# rung 4's sizes as unsigned constants, so that every index built from them stays unsigned
U_BM, U_BN, U_BK = np.uint32(BM4), np.uint32(BN4), np.uint32(BK4)
U_TCOLS = np.uint32(TCOLS4)
SA5, SB5 = BK4 * BM4, BK4 * BN4


@cached
@cuda.jit(fastmath=True)
def matmul_unsigned(a, b, c, m, n, k_dim):
    # a: (m*k_dim,), b: (k_dim*n,), c: (m*n,) row-major; m, n, k_dim: uint32
    sa = cuda.shared.array(SA5, float32)  # sa[k * BM + row]: A transposed
    sb = cuda.shared.array(SB5, float32)  # sb[k * BN + col]
    t = uint32(cuda.threadIdx.x)
    tx, ty = t % U_TCOLS, t // U_TCOLS
    row0 = uint32(cuda.blockIdx.y) * U_BM
    col0 = uint32(cuda.blockIdx.x) * U_BN
    acc = cuda.local.array((TM4, TN4), float32)
    reg_a = cuda.local.array(TM4, float32)
    reg_b = cuda.local.array(TN4, float32)
    for r in range(TM4):
        for q in range(TN4):
            acc[r, q] = 0.0
    for k0 in range(uint32(0), k_dim, U_BK):
        for l in range(LOADS4):
            e = t + uint32(l * THREADS4)
            ai, ak = e // U_BK, e % U_BK
            gi, gk = row0 + ai, k0 + ak
            sa[ak * U_BM + ai] = a[gi * k_dim + gk] if gi < m and gk < k_dim else float32(0.0)
            bk, bj = e // U_BN, e % U_BN
            gk, gj = k0 + bk, col0 + bj
            sb[e] = b[gk * n + gj] if gk < k_dim and gj < n else float32(0.0)
        cuda.syncthreads()
        for kk in range(BK4):
            for r in range(TM4):
                reg_a[r] = sa[ty + uint32(kk * BM4 + r * TROWS4)]
            for q in range(TN4):
                reg_b[q] = sb[tx + uint32(kk * BN4 + q * TCOLS4)]
            for r in range(TM4):
                for q in range(TN4):
                    acc[r, q] += reg_a[r] * reg_b[q]
        cuda.syncthreads()
    for r in range(TM4):
        i = row0 + ty + uint32(r * TROWS4)
        for q in range(TN4):
            j = col0 + tx + uint32(q * TCOLS4)
            if i < m and j < n:
                c[i * n + j] = acc[r, q]


#: rung 4's launch, with flat arrays and the sizes as uint32
RUNG = PlainRung("unsigned", matmul_unsigned, block=THREADS4, tile=(BM4, BN4), flat=True)
