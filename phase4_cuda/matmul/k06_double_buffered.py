"""Rung 6, double_buffered: rung 5 (8 x 8 outputs a thread from shared tiles, unsigned indices)
with double buffering. While the current tiles of A and B are multiplied from one shared buffer,
each thread already holds the next ones in registers (loaded before the FMAs, stored into the
other buffer after them), so global latency hides behind the arithmetic: one barrier per step
instead of two. Tile sizes are compile-time constants, chosen per problem size (tiles.TUNED).

Measured on the H100 at n = 4096: 21.8 TFLOP/s, 43% of cuBLAS SGEMM, below rung 5's 27.3: alone
it pays only with enough warps per SM (`nox -s phase4 -- --sizes 1024 2048 4096 8192`,
results/h100-ladder.json). It is the base that rung 7 makes fast.

This rung also computes the training step's products (options.py): transposed operands, the
fused epilogue, column sums and split-K. The kernel below shows the main loop; the option
handling is in thread_tiles.py and split_k.py, closure constants that a product without them
does not compile. Left out: 128-bit loads and operand prefetch (rung 7).
"""

from __future__ import annotations

from numba import cuda, float32, uint32

from phase4_cuda.kernel_cache import cached
from phase4_cuda.matmul import thread_tiles
from phase4_cuda.matmul.compiled import GemmVariant
from phase4_cuda.matmul.launch import ThreadTileRung
from phase4_cuda.matmul.split_k import k_slices
from phase4_cuda.wide_loads import SHARED_ALIGN

__all__ = ["RUNG", "build"]


def build(variant: GemmVariant):
    """The kernel of rung 6 for `variant` (its tiles and options; not `wide`). It takes
    (a, b, bias_vec, mask_vec, sums, work, counters, c, m, n, k_dim, vec_ok, n_split), as rung 7."""
    tiles = variant.tiles
    thread_tiles.check(variant)
    if tiles.prefetch:
        raise ValueError(f"{tiles}: prefetch needs the wide version (rung 7)")
    BM, BN, BK, TM, TN = tiles.BM, tiles.BN, tiles.BK, tiles.TM, tiles.TN
    TROWS, TCOLS = BM // TM, BN // TN
    LOAD_A, LOAD_B = BM * BK // tiles.threads, BK * BN // tiles.threads
    LDA, LDB = thread_tiles.shared_rows(tiles, variant.trans_b)
    SA, SB = BK * LDA, BK * LDB  # one buffer of each, in elements
    SA2, SB2 = 2 * SA, 2 * SB  # shared-array sizes must be constants, not expressions
    U_BM, U_BN, U_BK, U_TCOLS = uint32(BM), uint32(BN), uint32(BK), uint32(TCOLS)
    U_SA, U_SB = uint32(SA), uint32(SB)
    COLSUM, SPLIT_K = variant.col_sums, variant.split_k
    # Thread (ty, tx) owns rows ty + TROWS r and columns tx + TCOLS q, strided as in rung 5: the
    # offset of its r-th row (q-th column) from its first one, as a constant.
    ROW_OFF = tuple(r * TROWS for r in range(TM))
    COL_OFF = tuple(q * TCOLS for q in range(TN))
    fetch, stash = thread_tiles.checked_loads(tiles, variant.trans_a, variant.trans_b)
    outer = thread_tiles.outer_product(TM, TN)
    add_column = thread_tiles.add_column(tiles, variant.trans_b)
    store = thread_tiles.outputs(variant, ROW_OFF, COL_OFF)
    slice_of_k = k_slices(BK)

    @cuda.jit(device=True, inline="always")
    def load_operands(sa, sb, base_a, base_b, kk, reg_a, reg_b):
        # the thread's TM values of A and TN values of B at step kk, one 32-bit load each
        for r in range(TM):
            reg_a[r] = sa[base_a + uint32(kk * LDA + ROW_OFF[r])]
        for q in range(TN):
            reg_b[q] = sb[base_b + uint32(kk * LDB + COL_OFF[q])]

    @cuda.jit(device=True, inline="always")
    def multiply_tile(sa, sb, base_a, base_b, acc, reg_a, reg_b):
        for kk in range(BK):
            load_operands(sa, sb, base_a, base_b, kk, reg_a, reg_b)
            outer(acc, reg_a, reg_b)

    @cached
    @cuda.jit(fastmath=True, **thread_tiles.launch_bounds(tiles))
    def matmul_double_buffered(a, b, bias_vec, mask_vec, sums, work, counters, c, m, n, k_dim,
                               vec_ok, n_split):  # fmt: skip
        # a: (m*k_dim,) A, row-major (K, M) when trans_a; b: (k_dim*n,) B, (N, K) when trans_b;
        # bias_vec: (n,); mask_vec: (m*n,); sums: (n,) (each unused unless its option is set);
        # work: (n_split*(m+1)*n,) partial tiles and column sums, counters: (tiles,) int32 zeros
        # (split-K only); c: (m*n,); m, n, k_dim, vec_ok (read by rung 7 only), n_split: uint32
        sa = cuda.shared.array(SA2, float32, alignment=SHARED_ALIGN)  # [buffer][k][row of A]
        sb = cuda.shared.array(SB2, float32, alignment=SHARED_ALIGN)  # [buffer][k][column of B]
        t = uint32(cuda.threadIdx.x)
        tx, ty = t % U_TCOLS, t // U_TCOLS  # first column and row owned
        row0 = uint32(cuda.blockIdx.y) * U_BM
        col0 = uint32(cuda.blockIdx.x) * U_BN
        acc = cuda.local.array((TM, TN), float32)
        reg_a = cuda.local.array(TM, float32)
        reg_b = cuda.local.array(TN, float32)
        next_a = cuda.local.array(LOAD_A, float32)  # the next tiles, in flight
        next_b = cuda.local.array(LOAD_B, float32)
        for r in range(TM):
            for q in range(TN):
                acc[r, q] = 0.0
        col_sum = float32(0.0)
        sums_here = COLSUM and cuda.blockIdx.y == 0 and t < U_BN
        split = SPLIT_K and n_split > uint32(1)
        k_begin, k_end = slice_of_k(k_dim, n_split, split)
        # Tile 0: global -> registers -> shared buffer 0.
        fetch(a, b, k_begin, row0, col0, t, m, n, k_dim, k_end, next_a, next_b)
        stash(sa, sb, uint32(0), uint32(0), t, next_a, next_b)
        cuda.syncthreads()

        n_tiles = (k_end - k_begin + U_BK - uint32(1)) // U_BK
        for tile in range(uint32(0), n_tiles):
            cur = uint32(tile % uint32(2))
            more = tile + uint32(1) < n_tiles
            if more:  # issue the next tile's global loads now; they land while we compute
                k0 = k_begin + (tile + uint32(1)) * U_BK
                fetch(a, b, k0, row0, col0, t, m, n, k_dim, k_end, next_a, next_b)
            if sums_here:  # column t of this B tile
                col_sum = add_column(col_sum, sb, cur * U_SB, t)
            multiply_tile(sa, sb, cur * U_SA + ty, cur * U_SB + tx, acc, reg_a, reg_b)
            if more:  # fill the other buffer; it was last read before the previous barrier
                other = uint32(1) - cur
                stash(sa, sb, other * U_SA, other * U_SB, t, next_a, next_b)
            cuda.syncthreads()

        store(c, acc, col_sum, sums_here, bias_vec, mask_vec, sums, work, counters, split,
              n_split, row0, col0, ty, tx, t, m, n)  # fmt: skip

    return matmul_double_buffered


RUNG = ThreadTileRung("double_buffered", build, wide=False)
