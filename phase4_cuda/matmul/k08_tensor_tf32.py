"""Rung 8, tensor_tf32: the tensor cores. A warp multiplies a 16 x 8 tile of A by an 8 x 8 tile
of B in one instruction, mma.sync m16n8k8 in TF32 (../tensor_cores.py): float32 inputs rounded to
10 mantissa bits, products summed in float32, a precision of its own (matmul(..., precision=
"tf32")). A block computes a BM x BN tile of C; its warps split it into WM x WN tiles, each
(WM/16) x (WN/8) mma tiles of 4 accumulators a thread (warp_tiles.py). Per step of BK along K the
block stages A's BM x BK and B's BK x BN in shared memory, rounded to TF32 once as they arrive;
each warp reads its fragments and issues (WM/16)(WN/8) mma per 8 of K: the larger the warp tile,
the more mma per fragment read. As in rung 6, each thread already holds the next step's global
values in registers while the warps multiply (loaded before the mma, stored after the barrier).
Shared rows are padded (BK + 4 and BN + 8 floats) so that the 32 lanes reading a fragment hit 32
different banks.

Measured on the H100 at n = 4096: 79.8 TFLOP/s, 26% of cuBLAS in TF32, twice rung 7 (`python -m
phase4_cuda.benchmark --sizes 1024 2048 4096`, results/h100-ladder-async.json; the tiles chosen
among seven in results/h100-tensor-tiles.json). Left out: the training step's options (rungs 10
and 11 take them) and a copy that skips the registers (rung 10).
"""

from __future__ import annotations

from numba import cuda, float32, uint32

from phase4_cuda.matmul import warp_tiles
from phase4_cuda.matmul.compiled import TensorVariant
from phase4_cuda.matmul.launch import TensorRung
from phase4_cuda.matmul.tiles import TensorTiles
from phase4_cuda.tensor_cores import mma_tf32, tf32

__all__ = ["RUNG", "build", "tf32_fragments_mma"]


def tf32_fragments_mma(tiles: TensorTiles, round_on_read=True, trans_a=False, trans_b=False):
    """step(sa, sb, base_a, base_b, wm, wn, g, t, frag_a, frag_b, acc): one buffer's BK of K
    for one warp in TF32: fragments from the float32 tiles (rounded as they are read, unless
    they were rounded as they were staged), then (WM/16)(WN/8) mma per 8 of K. The buffer starts
    at base_a, base_b; layouts as warp_tiles.shared_layout. Returns (step, fragment type)."""
    BK, MI, NI = tiles.BK, tiles.WM // 16, tiles.WN // 8
    a_at, b_at = warp_tiles.fragment_addresses(tiles, trans_a, trans_b)
    tf32_of = tf32 if round_on_read else warp_tiles.as_staged
    multiply = warp_tiles.warp_mma(MI, NI, mma_tf32)
    U4, U8 = uint32(4), uint32(8)

    @cuda.jit(device=True, inline="always")
    def step(sa, sb, base_a, base_b, wm, wn, g, t, frag_a, frag_b, acc):
        for kk in range(0, BK, 8):
            k = uint32(kk) + t
            for mi in range(MI):
                r = wm + uint32(mi * 16) + g
                frag_a[mi * 4] = tf32_of(sa[a_at(base_a, r, k)])
                frag_a[mi * 4 + 1] = tf32_of(sa[a_at(base_a, r + U8, k)])
                frag_a[mi * 4 + 2] = tf32_of(sa[a_at(base_a, r, k + U4)])
                frag_a[mi * 4 + 3] = tf32_of(sa[a_at(base_a, r + U8, k + U4)])
            for ni in range(NI):
                j = wn + uint32(ni * 8) + g
                frag_b[ni * 2] = tf32_of(sb[b_at(base_b, k, j)])
                frag_b[ni * 2 + 1] = tf32_of(sb[b_at(base_b, k + U4, j)])
            multiply(frag_a, frag_b, acc)

    return step, float32


def build(variant: TensorVariant):
    """The kernel of rung 8 for `variant.tiles` (one stage, no options). It takes
    (a, b, c, m, n, k_dim)."""
    tiles = variant.tiles
    warp_tiles.check(tiles, "tf32")
    BM, BN, BK, WM, WN = tiles.BM, tiles.BN, tiles.BK, tiles.WM, tiles.WN
    THREADS = tiles.threads
    MI, NI = WM // 16, WN // 8  # mma tiles per warp
    store, place = warp_tiles.epilogue(MI, NI), warp_tiles.place(tiles)
    step, _ = tf32_fragments_mma(tiles, round_on_read=False)  # rounded as they are staged
    LDA, LDB, SA_SIZE, SB_SIZE = warp_tiles.shared_layout(tiles)  # padded shared rows
    LOADS_A, LOADS_B = BM * BK // THREADS, BK * BN // THREADS
    ACC, FRAG_A, FRAG_B = MI * NI * 4, MI * 4, NI * 2  # local array sizes: constants
    U_BN, U_BK, U_LDA, U_LDB = uint32(BN), uint32(BK), uint32(LDA), uint32(LDB)

    @cuda.jit(fastmath=True)
    def matmul_tensor_tf32(a, b, c, m, n, k_dim):
        # a: (m*k_dim,), b: (k_dim*n,), c: (m*n,) row-major; m, n, k_dim: uint32
        sa = cuda.shared.array(SA_SIZE, float32)  # sa[row * LDA + k]
        sb = cuda.shared.array(SB_SIZE, float32)  # sb[k * LDB + col]
        next_a = cuda.local.array(LOADS_A, float32)  # the next step's values, in flight
        next_b = cuda.local.array(LOADS_B, float32)
        frag_a = cuda.local.array(FRAG_A, float32)
        frag_b = cuda.local.array(FRAG_B, float32)
        acc = cuda.local.array(ACC, float32)  # acc[(mi * NI + ni) * 4 + r]
        tid, g, t, wm, wn, row0, col0 = place()
        for i in range(ACC):
            acc[i] = 0.0
        for l in range(LOADS_A):  # the first step's values
            e = tid + uint32(l * THREADS)
            gi, gk = row0 + e // U_BK, e % U_BK
            next_a[l] = a[gi * k_dim + gk] if gi < m and gk < k_dim else float32(0.0)
        for l in range(LOADS_B):
            e = tid + uint32(l * THREADS)
            gk, gj = e // U_BN, col0 + e % U_BN
            next_b[l] = b[gk * n + gj] if gk < k_dim and gj < n else float32(0.0)
        for k0 in range(uint32(0), k_dim, U_BK):
            for l in range(LOADS_A):
                e = tid + uint32(l * THREADS)
                sa[(e // U_BK) * U_LDA + e % U_BK] = tf32(next_a[l])
            for l in range(LOADS_B):
                e = tid + uint32(l * THREADS)
                sb[(e // U_BN) * U_LDB + e % U_BN] = tf32(next_b[l])
            cuda.syncthreads()
            k1 = k0 + U_BK
            if k1 < k_dim:  # start the next step's loads: they arrive while the mma run
                for l in range(LOADS_A):
                    e = tid + uint32(l * THREADS)
                    gi, gk = row0 + e // U_BK, k1 + e % U_BK
                    next_a[l] = a[gi * k_dim + gk] if gi < m and gk < k_dim else float32(0.0)
                for l in range(LOADS_B):
                    e = tid + uint32(l * THREADS)
                    gk, gj = k1 + e // U_BN, col0 + e % U_BN
                    next_b[l] = b[gk * n + gj] if gk < k_dim and gj < n else float32(0.0)
            step(sa, sb, uint32(0), uint32(0), wm, wn, g, t, frag_a, frag_b, acc)
            cuda.syncthreads()
        store(c, acc, c, c, m, n, row0 + wm, col0 + wn, g, t)

    return matmul_tensor_tf32


RUNG = TensorRung("tensor_tf32", "tf32", build)
