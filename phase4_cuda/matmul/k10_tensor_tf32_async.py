"""Rung 10, tensor_tf32_async: rung 8 fed by a pipeline of cp.async copies (../async_copy.py).
Rung 8 moves the next tile global -> registers -> shared: each thread holds its share of the
tile in flight in registers, and waits for them before it can store them. Here the copies go
straight to shared memory, with no registers held and nothing to wait for until the data is
needed, so a block keeps STAGES - 1 tiles in flight while it multiplies the current one: shared
memory holds STAGES buffers, used in turn. Per step: wait until this thread's copies of the
current tile have landed, a barrier (everyone's have, and everyone is done with the buffer
multiplied last step), issue the copies of the tile STAGES - 1 steps ahead into that free
buffer, multiply. The tiles stay float32 in shared memory (a copy cannot convert): the rounding
to TF32 moves to the fragment reads. Rows whose length is a multiple of 4 floats copy 16 bytes
at a time (copy16), others 4 (copy4); a copy off the matrix's edge reads nothing and fills zeros.

Measured on the H100 at n = 4096: 119.6 TFLOP/s, 39% of cuBLAS in TF32, 1.5x rung 8: the
registers that held the next tile go back to the accumulators (255 -> 216, no spill); it is
what `matmul(..., precision="tf32")` runs (`python -m phase4_cuda.benchmark --sizes 1024 2048
4096`, results/h100-ladder-async.json; tiles and depths in results/h100-async-tiles.json).

It takes the training step's options as rungs 6 and 7 do, all but column sums with split-K
(warp_tiles.py, split_k.py): Phase 5's step on the tensor cores. Rung 11 is this pipeline with
bfloat16 fragments (`pipeline` takes the fragment step).
"""

from __future__ import annotations

from numba import cuda, float32, uint32

from phase4_cuda.async_copy import commit, copy4, copy16, wait
from phase4_cuda.kernel_cache import cached
from phase4_cuda.matmul import warp_tiles
from phase4_cuda.matmul.compiled import TensorVariant
from phase4_cuda.matmul.k08_tensor_tf32 import tf32_fragments_mma
from phase4_cuda.matmul.launch import AsyncTensorRung
from phase4_cuda.matmul.split_k import k_slices
from phase4_cuda.matmul.tiles import SHARED_LIMIT
from phase4_cuda.wide_loads import SHARED_ALIGN

__all__ = ["RUNG", "build", "pipeline"]


def _copies(variant: TensorVariant):
    """issue(sa, sb, a, b, s, k0, tid, row0, col0, m, n, k_dim, k_end): start this thread's
    copies of the tiles of A and B at k0 into buffer s % STAGES (a copy past m, n or k_end, where
    this block's slice of K ends, fills zeros), `variant.vec` floats per copy."""
    tiles, vec, TA, TB = variant.tiles, variant.vec, variant.trans_a, variant.trans_b
    BM, BN, BK, STAGES, THREADS = tiles.BM, tiles.BN, tiles.BK, tiles.stages, tiles.threads
    copy = copy16 if vec == 4 else copy4
    LDA, LDB, STAGE_A, STAGE_B = warp_tiles.shared_layout(tiles, TA, TB)
    COPIES_A, COPIES_B = BM * BK // (vec * THREADS), BK * BN // (vec * THREADS)
    U_LDA, U_LDB, U_VEC = uint32(LDA), uint32(LDB), uint32(vec)
    # copies per stored row of each tile: along K for A (along M when transposed), along N for
    # B (along K when transposed)
    U_ROW_A = uint32((BM if TA else BK) // vec)
    U_ROW_B = uint32((BK if TB else BN) // vec)

    @cuda.jit(device=True, inline="always")
    def issue(sa, sb, a, b, s, k0, tid, row0, col0, m, n, k_dim, k_end):
        slot = s % uint32(STAGES)
        for l in range(COPIES_A):
            e = tid + uint32(l * THREADS)
            rr, cc = e // U_ROW_A, (e % U_ROW_A) * U_VEC  # stored row and column in the tile
            if TA:  # A stored (K, M): rows are k
                gk, gi = k0 + rr, row0 + cc
                inside = gk < k_end and gi < m
                src = gk * m + gi if inside else uint32(0)
            else:
                gi, gk = row0 + rr, k0 + cc
                inside = gi < m and gk < k_end
                src = gi * k_dim + gk if inside else uint32(0)
            copy(sa, slot * uint32(STAGE_A) + rr * U_LDA + cc, a, src, inside)
        for l in range(COPIES_B):
            e = tid + uint32(l * THREADS)
            rr, cc = e // U_ROW_B, (e % U_ROW_B) * U_VEC
            if TB:  # B stored (N, K): rows are columns of op(B)
                gj, gk = col0 + rr, k0 + cc
                inside = gj < n and gk < k_end
                src = gj * k_dim + gk if inside else uint32(0)
            else:
                gk, gj = k0 + rr, col0 + cc
                inside = gk < k_end and gj < n
                src = gk * n + gj if inside else uint32(0)
            copy(sb, slot * uint32(STAGE_B) + rr * U_LDB + cc, b, src, inside)

    return issue


def pipeline(variant: TensorVariant, fragments):
    """The cp.async kernel for `variant`, multiplying each buffer with `fragments` = (step,
    fragment type) (rung 8's tf32_fragments_mma here, rung 11's bf16 one there). It takes
    (a, b, bias_vec, mask_vec, sums, work, counters, c, m, n, k_dim, n_split)."""
    tiles = variant.tiles
    warp_tiles.check(tiles, variant.precision)
    if variant.vec not in (1, 4):
        raise ValueError(f"copies of 1 or 4 floats, not {variant.vec}")
    if variant.col_sums and (variant.trans_b or variant.split_k or tiles.threads < tiles.BN):
        raise ValueError(
            f"{variant}: col_sums needs B as stored (not trans_b), no split-K, BN threads or more"
        )
    BN, BK, STAGES = tiles.BN, tiles.BK, tiles.stages
    MI, NI = tiles.WM // 16, tiles.WN // 8
    COLSUM, SPLIT_K = variant.col_sums, variant.split_k
    step, frag_type = fragments
    issue, place = _copies(variant), warp_tiles.place(tiles)
    store = warp_tiles.outputs(variant)
    slice_of_k = k_slices(BK)
    _, LDB, STAGE_A, STAGE_B = warp_tiles.shared_layout(tiles, variant.trans_a, variant.trans_b)
    SA_SIZE, SB_SIZE = STAGES * STAGE_A, STAGES * STAGE_B  # (array sizes: constants)
    if 4 * (SA_SIZE + SB_SIZE) > SHARED_LIMIT:
        raise ValueError(f"{variant}: {4 * (SA_SIZE + SB_SIZE)} bytes of shared memory")
    ACC, FRAG_A, FRAG_B = MI * NI * 4, MI * 4, NI * 2
    U_BK, U_BN, U_LDB = uint32(BK), uint32(BN), uint32(LDB)
    PENDING = STAGES - 2  # copy groups still in flight when a step's tile must have landed

    @cached
    @cuda.jit(fastmath=True)
    def matmul_tensor_async(a, b, bias_vec, mask_vec, sums, work, counters, c, m, n, k_dim,
                            n_split):  # fmt: skip
        # a: (m*k_dim,) A, row-major (K, M) when trans_a; b: (k_dim*n,) B, (N, K) when trans_b;
        # bias_vec: (n,); mask_vec: (m*n,); sums: (n,) (each unused unless its option is set);
        # work: (n_split*(m+1)*n,) partial tiles, counters: (tiles,) int32 zeros (split-K
        # only); c: (m*n,); m, n, k_dim, n_split: uint32
        sa = cuda.shared.array(SA_SIZE, float32, alignment=SHARED_ALIGN)
        sb = cuda.shared.array(SB_SIZE, float32, alignment=SHARED_ALIGN)
        frag_a = cuda.local.array(FRAG_A, frag_type)
        frag_b = cuda.local.array(FRAG_B, frag_type)
        acc = cuda.local.array(ACC, float32)
        tid, g, t, wm, wn, row0, col0 = place()
        for i in range(ACC):
            acc[i] = 0.0
        split = SPLIT_K and n_split > uint32(1)
        k_begin, k_end = slice_of_k(k_dim, n_split, split)
        steps = (k_end - k_begin + U_BK - uint32(1)) // U_BK
        col_sum = float32(0.0)
        sums_here = COLSUM and cuda.blockIdx.y == 0 and tid < U_BN
        for s in range(STAGES - 1):  # fill the pipeline: one group of copies per stage
            if uint32(s) < steps:
                k0 = k_begin + uint32(s) * U_BK
                issue(sa, sb, a, b, uint32(s), k0, tid, row0, col0, m, n, k_dim, k_end)
            commit()
        for s in range(uint32(0), steps):
            wait(PENDING)  # this thread's copies of step s have landed
            cuda.syncthreads()  # everyone's have; everyone is done with the buffer of step s-1
            ahead = s + uint32(STAGES - 1)
            if ahead < steps:
                k0 = k_begin + ahead * U_BK
                issue(sa, sb, a, b, ahead, k0, tid, row0, col0, m, n, k_dim, k_end)
            commit()  # (an empty group at the end keeps the count)
            slot = s % uint32(STAGES)
            if sums_here:  # column tid of this B tile; rows past K were filled with zeros
                for kk in range(BK):
                    col_sum += sb[slot * uint32(STAGE_B) + uint32(kk) * U_LDB + tid]
            step(sa, sb, slot * uint32(STAGE_A), slot * uint32(STAGE_B), wm, wn, g, t,
                 frag_a, frag_b, acc)  # fmt: skip
        store(c, acc, col_sum, sums_here, bias_vec, mask_vec, sums, work, counters, split,
              n_split, m, n, row0 + wm, col0 + wn, g, t, tid, col0)  # fmt: skip

    return matmul_tensor_async


def build(variant: TensorVariant):
    """The kernel of rung 10 for `variant` (TF32, two or more stages, any options)."""
    step = tf32_fragments_mma(variant.tiles, True, variant.trans_a, variant.trans_b)
    return pipeline(variant, step)


RUNG = AsyncTensorRung("tensor_tf32_async", "tf32", build)
