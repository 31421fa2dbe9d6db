"""Rung 9, tensor_bf16: rung 8's block and warp tiles with mma.sync m16n8k16 in bfloat16: inputs
rounded to 8 mantissa bits (float32's exponent, so nothing overflows that float32 holds),
products summed in float32, 16 of K per instruction: half the instructions of TF32 for the same
work (matmul(..., precision="bf16")). Each 32-bit register holds a pair of bfloat16 values
adjacent along K, so both tiles are staged as packed pairs: A as [row][k/2] (a row's neighbours
along K), B as [k/2][column] (two rows of B packed into one), converted once by cvt.rn.bf16x2 as
they arrive. The main loop is rung 8's, the stores of one step and the loads of the next in one
pass of a loop one step longer.

Measured on the H100 at n = 4096: 130.9 TFLOP/s, 20% of cuBLAS in BF16 (`python -m
phase4_cuda.benchmark --sizes 1024 2048 4096`, results/h100-ladder-async.json). Left out: the
training step's options and cp.async (rung 11).
"""

from __future__ import annotations

from numba import cuda, float32, uint32

from phase4_cuda.matmul import warp_tiles
from phase4_cuda.matmul.compiled import TensorVariant
from phase4_cuda.matmul.launch import TensorRung
from phase4_cuda.tensor_cores import bf16x2, mma_bf16

__all__ = ["RUNG", "build"]


def build(variant: TensorVariant):
    """The kernel of rung 9 for `variant.tiles` (one stage, no options). It takes
    (a, b, c, m, n, k_dim)."""
    tiles = variant.tiles
    warp_tiles.check(tiles, "bf16")
    BM, BN, BK, WM, WN = tiles.BM, tiles.BN, tiles.BK, tiles.WM, tiles.WN
    THREADS = tiles.threads
    MI, NI = WM // 16, WN // 8
    store, place = warp_tiles.epilogue(MI, NI), warp_tiles.place(tiles)
    multiply = warp_tiles.warp_mma(MI, NI, mma_bf16)
    HALF_K = BK // 2  # pairs along K per step
    LDA, LDB = HALF_K + 4, BN + 8  # padded shared rows, in pairs
    SA_SIZE, SB_SIZE = BM * LDA, HALF_K * LDB
    PAIRS_A, PAIRS_B = BM * HALF_K // THREADS, HALF_K * BN // THREADS
    NEXT_A, NEXT_B = 2 * PAIRS_A, 2 * PAIRS_B
    ACC, FRAG_A, FRAG_B = MI * NI * 4, MI * 4, NI * 2
    U_BN, U_HK, U_LDA, U_LDB = uint32(BN), uint32(HALF_K), uint32(LDA), uint32(LDB)
    U_BK = uint32(BK)

    @cuda.jit(fastmath=True)
    def matmul_tensor_bf16(a, b, c, m, n, k_dim):
        # a: (m*k_dim,), b: (k_dim*n,), c: (m*n,) row-major; m, n, k_dim: uint32
        sa = cuda.shared.array(SA_SIZE, uint32)  # sa[row * LDA + k/2]: A[row, k], A[row, k+1]
        sb = cuda.shared.array(SB_SIZE, uint32)  # sb[k/2 * LDB + col]: B[k, col], B[k+1, col]
        next_a = cuda.local.array(NEXT_A, float32)  # the next step's values, in flight
        next_b = cuda.local.array(NEXT_B, float32)
        frag_a = cuda.local.array(FRAG_A, uint32)
        frag_b = cuda.local.array(FRAG_B, uint32)
        acc = cuda.local.array(ACC, float32)
        tid, g, t, wm, wn, row0, col0 = place()
        for i in range(ACC):
            acc[i] = 0.0
        for k0 in range(uint32(0), k_dim + U_BK, U_BK):
            if k0 > uint32(0):  # stage what was loaded for this step, packed in pairs
                for l in range(PAIRS_A):
                    e = tid + uint32(l * THREADS)
                    sa[(e // U_HK) * U_LDA + e % U_HK] = bf16x2(next_a[2 * l + 1], next_a[2 * l])
                for l in range(PAIRS_B):
                    e = tid + uint32(l * THREADS)
                    sb[(e // U_BN) * U_LDB + e % U_BN] = bf16x2(next_b[2 * l + 1], next_b[2 * l])
                cuda.syncthreads()
            if k0 < k_dim:  # load the values of step k0 (they arrive while step k0 - BK runs)
                for l in range(PAIRS_A):
                    e = tid + uint32(l * THREADS)
                    gi, gk = row0 + e // U_HK, k0 + uint32(2) * (e % U_HK)
                    inside = gi < m
                    next_a[2 * l] = a[gi * k_dim + gk] if inside and gk < k_dim else float32(0.0)
                    gk1 = gk + uint32(1)
                    next_a[2 * l + 1] = (
                        a[gi * k_dim + gk1] if inside and gk1 < k_dim else float32(0.0)
                    )
                for l in range(PAIRS_B):
                    e = tid + uint32(l * THREADS)
                    gk, gj = k0 + uint32(2) * (e // U_BN), col0 + e % U_BN
                    inside = gj < n
                    next_b[2 * l] = b[gk * n + gj] if inside and gk < k_dim else float32(0.0)
                    gk1 = gk + uint32(1)
                    next_b[2 * l + 1] = b[gk1 * n + gj] if inside and gk1 < k_dim else float32(0.0)
            if k0 > uint32(0):
                for kp in range(0, HALF_K, 8):  # 16 of K, 8 pairs, per instruction
                    for mi in range(MI):
                        ra = (wm + uint32(mi * 16) + g) * U_LDA + uint32(kp) + t
                        frag_a[mi * 4] = sa[ra]
                        frag_a[mi * 4 + 1] = sa[ra + uint32(8 * LDA)]
                        frag_a[mi * 4 + 2] = sa[ra + uint32(4)]
                        frag_a[mi * 4 + 3] = sa[ra + uint32(8 * LDA + 4)]
                    for ni in range(NI):
                        cb = (uint32(kp) + t) * U_LDB + wn + uint32(ni * 8) + g
                        frag_b[ni * 2] = sb[cb]
                        frag_b[ni * 2 + 1] = sb[cb + uint32(4 * LDB)]
                    multiply(frag_a, frag_b, acc)
                cuda.syncthreads()
        store(c, acc, c, c, m, n, row0 + wm, col0 + wn, g, t)

    return matmul_tensor_bf16


RUNG = TensorRung("tensor_bf16", "bf16", build)
