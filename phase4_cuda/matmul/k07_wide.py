"""Rung 7, wide: rung 6 with each thread owning runs of 4 adjacent rows and columns instead of
strided ones, so that it reads its operands from shared memory with 128-bit loads
(`wide_loads.load4`, an LLVM intrinsic: numba has no float4 arrays): 4 loads instead of 16 per
step of k for 8 x 8 outputs. Three more changes, each measured by the autotuner: interior blocks
of aligned operands also load their global tiles 4 floats at a time; the tiles for large products
ask `launch_bounds` for 2 blocks per SM; and (`Tiles.prefetch`) the next step's operands are
loaded from shared memory while this step's FMAs run.

Measured on the H100 at n = 4096: 38.7 TFLOP/s, 76% of cuBLAS SGEMM, the fastest float32 rung
and the one `matmul()` runs (`nox -s phase4 -- --sizes 1024 2048 4096 8192`,
results/h100-ladder.json; the steps one by one in results/h100-autotune.json).

It takes the training step's options as rung 6 does (thread_tiles.py, split_k.py): it is the
fused dense layer of dense.py and every float32 product of Phase 5. Left out: the tensor cores
(rung 8).
"""

from __future__ import annotations

from numba import cuda, float32, uint32

from phase4_cuda.kernel_cache import cached
from phase4_cuda.matmul import thread_tiles
from phase4_cuda.matmul.compiled import GemmVariant
from phase4_cuda.matmul.launch import ThreadTileRung
from phase4_cuda.matmul.split_k import k_slices
from phase4_cuda.matmul.tiles import Tiles
from phase4_cuda.wide_loads import SHARED_ALIGN, load4

__all__ = ["RUNG", "build"]


def _vector_loads(tiles: Tiles):
    """fetch4(a, b, k0, row0, col0, t, n, k_dim, next_a, next_b) and stash4(sa, sb, off_a,
    off_b, t, next_a, next_b): checked_loads' fetch and stash 4 floats at a time (load4 on global
    memory: one 128-bit load), with no bounds checks: for whole tiles of interior blocks of
    operands stored as they are, with K and N % 4 == 0 and 16-byte aligned."""
    BM, BN, BK, THREADS = tiles.BM, tiles.BN, tiles.BK, tiles.threads
    LOAD_A4, LOAD_B4 = BM * BK // THREADS // 4, BK * BN // THREADS // 4
    U_LDA = uint32(thread_tiles.shared_rows(tiles, False)[0])
    U_BK4, U_BN4, U_4, U_BN = uint32(BK // 4), uint32(BN // 4), uint32(4), uint32(BN)

    @cuda.jit(device=True, inline="always")
    def fetch4(a, b, k0, row0, col0, t, n, k_dim, next_a, next_b):
        for l in range(LOAD_A4):
            e = t + uint32(l * THREADS)
            x = load4(a, (row0 + e // U_BK4) * k_dim + k0 + (e % U_BK4) * U_4)
            for i in range(4):
                next_a[4 * l + i] = x[i]
        for l in range(LOAD_B4):
            e = t + uint32(l * THREADS)
            x = load4(b, (k0 + e // U_BN4) * n + col0 + (e % U_BN4) * U_4)
            for i in range(4):
                next_b[4 * l + i] = x[i]

    @cuda.jit(device=True, inline="always")
    def stash4(sa, sb, off_a, off_b, t, next_a, next_b):
        for l in range(LOAD_A4):
            e = t + uint32(l * THREADS)
            row, k = e // U_BK4, (e % U_BK4) * U_4
            for i in range(4):
                sa[off_a + (k + uint32(i)) * U_LDA + row] = next_a[4 * l + i]
        for l in range(LOAD_B4):
            e = t + uint32(l * THREADS)
            k, col = e // U_BN4, (e % U_BN4) * U_4
            for i in range(4):
                sb[off_b + k * U_BN + col + uint32(i)] = next_b[4 * l + i]

    return fetch4, stash4


def _multiply(tiles: Tiles, LDA: int, LDB: int, ROW_OFF: tuple, COL_OFF: tuple):
    """multiply_tile(sa, sb, base_a, base_b, acc, reg_a, reg_b, reg_a2, reg_b2): one tile of K
    from shared memory into the accumulators, the operands 4 adjacent values per 128-bit load;
    with `tiles.prefetch` two steps of k per iteration, each loading the other's operands."""
    BK, TM, TN, PREFETCH = tiles.BK, tiles.TM, tiles.TN, tiles.prefetch
    outer = thread_tiles.outer_product(TM, TN)

    @cuda.jit(device=True, inline="always")
    def load_operands(sa, sb, base_a, base_b, kk, reg_a, reg_b):
        # the thread's TM values of A and TN values of B at step kk
        for h in range(TM // 4):
            x0, x1, x2, x3 = load4(sa, base_a + uint32(kk * LDA + ROW_OFF[4 * h]))
            reg_a[4 * h] = x0
            reg_a[4 * h + 1] = x1
            reg_a[4 * h + 2] = x2
            reg_a[4 * h + 3] = x3
        for h in range(TN // 4):
            x0, x1, x2, x3 = load4(sb, base_b + uint32(kk * LDB + COL_OFF[4 * h]))
            reg_b[4 * h] = x0
            reg_b[4 * h + 1] = x1
            reg_b[4 * h + 2] = x2
            reg_b[4 * h + 3] = x3

    @cuda.jit(device=True, inline="always")
    def multiply_tile(sa, sb, base_a, base_b, acc, reg_a, reg_b, reg_a2, reg_b2):
        if PREFETCH:  # step kk + 1's operands load while step kk's FMAs run, and so on
            load_operands(sa, sb, base_a, base_b, 0, reg_a, reg_b)
            for kk in range(0, BK, 2):
                load_operands(sa, sb, base_a, base_b, kk + 1, reg_a2, reg_b2)
                outer(acc, reg_a, reg_b)
                if kk + 2 < BK:
                    load_operands(sa, sb, base_a, base_b, kk + 2, reg_a, reg_b)
                outer(acc, reg_a2, reg_b2)
        else:
            for kk in range(BK):
                load_operands(sa, sb, base_a, base_b, kk, reg_a, reg_b)
                outer(acc, reg_a, reg_b)

    return multiply_tile


def build(variant: GemmVariant):
    """The kernel of rung 7 for `variant` (its tiles and options). It takes (a, b, bias_vec,
    mask_vec, sums, work, counters, c, m, n, k_dim, vec_ok, n_split), as rung 6."""
    tiles = variant.tiles
    thread_tiles.check(variant)
    if tiles.TM % 4 or tiles.TN % 4:
        raise ValueError(f"{tiles}: the wide version needs TM and TN divisible by 4")
    if tiles.prefetch and tiles.BK % 2:
        raise ValueError(f"{tiles}: prefetch needs the wide version and an even BK")
    BM, BN, BK, TM, TN, THREADS = tiles.BM, tiles.BN, tiles.BK, tiles.TM, tiles.TN, tiles.threads
    TROWS, TCOLS = BM // TM, BN // TN
    LOAD_A, LOAD_B = BM * BK // THREADS, BK * BN // THREADS
    LDA, LDB = thread_tiles.shared_rows(tiles, variant.trans_b)
    SA, SB = BK * LDA, BK * LDB  # one buffer of each, in elements
    SA2, SB2 = 2 * SA, 2 * SB  # shared-array sizes must be constants, not expressions
    U_BM, U_BN, U_BK, U_TCOLS = uint32(BM), uint32(BN), uint32(BK), uint32(TCOLS)
    U_SA, U_SB = uint32(SA), uint32(SB)
    COLSUM, SPLIT_K = variant.col_sums, variant.split_k
    # Thread (ty, tx) owns the runs of 4 rows 4 ty + 4 TROWS h + (0..3), columns likewise: the
    # offset of its r-th row (q-th column) from its first one, as a constant.
    ROW_OFF = tuple((r // 4) * 4 * TROWS + r % 4 for r in range(TM))
    COL_OFF = tuple((q // 4) * 4 * TCOLS + q % 4 for q in range(TN))
    U_STEP = uint32(4)  # a thread's first row is 4 ty
    # Interior blocks of aligned operands stored as they are load their tiles 4 floats at a
    # time with no bounds checks; edge blocks take the checked scalar path.
    VEC = (
        not (variant.trans_a or variant.trans_b)
        and BK % 4 == 0
        and (BM * BK) % (4 * THREADS) == 0
        and (BK * BN) % (4 * THREADS) == 0
    )
    fetch_checked, stash_checked = thread_tiles.checked_loads(
        tiles, variant.trans_a, variant.trans_b
    )
    fetch4, stash4 = _vector_loads(tiles)
    multiply_tile = _multiply(tiles, LDA, LDB, ROW_OFF, COL_OFF)
    add_column = thread_tiles.add_column(tiles, variant.trans_b)
    store = thread_tiles.outputs(variant, ROW_OFF, COL_OFF)
    slice_of_k = k_slices(BK)

    @cuda.jit(device=True, inline="always")
    def fetch(a, b, k0, row0, col0, t, m, n, k_dim, k_end, fast, next_a, next_b):
        if VEC and fast:
            fetch4(a, b, k0, row0, col0, t, n, k_dim, next_a, next_b)
        else:
            fetch_checked(a, b, k0, row0, col0, t, m, n, k_dim, k_end, next_a, next_b)

    @cuda.jit(device=True, inline="always")
    def stash(sa, sb, off_a, off_b, t, fast, next_a, next_b):
        if VEC and fast:
            stash4(sa, sb, off_a, off_b, t, next_a, next_b)
        else:
            stash_checked(sa, sb, off_a, off_b, t, next_a, next_b)

    @cached
    @cuda.jit(fastmath=True, **thread_tiles.launch_bounds(tiles))
    def matmul_wide(a, b, bias_vec, mask_vec, sums, work, counters, c, m, n, k_dim, vec_ok,
                    n_split):  # fmt: skip
        # a: (m*k_dim,) A, row-major (K, M) when trans_a; b: (k_dim*n,) B, (N, K) when trans_b;
        # bias_vec: (n,); mask_vec: (m*n,); sums: (n,) (each unused unless its option is set);
        # work: (n_split*(m+1)*n,) partial tiles and column sums, counters: (tiles,) int32 zeros
        # (split-K only); c: (m*n,); m, n, k_dim, vec_ok, n_split: uint32
        sa = cuda.shared.array(SA2, float32, alignment=SHARED_ALIGN)  # [buffer][k][row of A]
        sb = cuda.shared.array(SB2, float32, alignment=SHARED_ALIGN)  # [buffer][k][column of B]
        t = uint32(cuda.threadIdx.x)
        tx, ty = (t % U_TCOLS) * U_STEP, (t // U_TCOLS) * U_STEP  # first column and row owned
        row0 = uint32(cuda.blockIdx.y) * U_BM
        col0 = uint32(cuda.blockIdx.x) * U_BN
        acc = cuda.local.array((TM, TN), float32)
        reg_a = cuda.local.array(TM, float32)
        reg_b = cuda.local.array(TN, float32)
        reg_a2 = cuda.local.array(TM, float32)  # used only with prefetch
        reg_b2 = cuda.local.array(TN, float32)
        next_a = cuda.local.array(LOAD_A, float32)  # the next tiles, in flight
        next_b = cuda.local.array(LOAD_B, float32)
        for r in range(TM):
            for q in range(TN):
                acc[r, q] = 0.0
        col_sum = float32(0.0)
        sums_here = COLSUM and cuda.blockIdx.y == 0 and t < U_BN
        split = SPLIT_K and n_split > uint32(1)
        k_begin, k_end = slice_of_k(k_dim, n_split, split)
        # vec_ok (from the host): N and K % 4 == 0, 16-byte aligned operands. Then every whole
        # tile of an interior block takes the 128-bit loads; a last, partial tile of K does not.
        fast = vec_ok != 0 and row0 + U_BM <= m and col0 + U_BN <= n
        # Tile 0: global -> registers -> shared buffer 0.
        fast_next = fast and k_begin + U_BK <= k_end
        fetch(a, b, k_begin, row0, col0, t, m, n, k_dim, k_end, fast_next, next_a, next_b)
        stash(sa, sb, uint32(0), uint32(0), t, fast_next, next_a, next_b)
        cuda.syncthreads()

        n_tiles = (k_end - k_begin + U_BK - uint32(1)) // U_BK
        for tile in range(uint32(0), n_tiles):
            cur = uint32(tile % uint32(2))
            more = tile + uint32(1) < n_tiles
            if more:  # issue the next tile's global loads now; they land while we compute
                k0 = k_begin + (tile + uint32(1)) * U_BK
                fast_next = fast and k0 + U_BK <= k_end
                fetch(a, b, k0, row0, col0, t, m, n, k_dim, k_end, fast_next, next_a, next_b)
            if sums_here:  # column t of this B tile
                col_sum = add_column(col_sum, sb, cur * U_SB, t)
            multiply_tile(sa, sb, cur * U_SA + ty, cur * U_SB + tx, acc, reg_a, reg_b, reg_a2,
                          reg_b2)  # fmt: skip
            if more:  # fill the other buffer; it was last read before the previous barrier
                other = uint32(1) - cur
                stash(sa, sb, other * U_SA, other * U_SB, t, fast_next, next_a, next_b)
            cuda.syncthreads()

        store(c, acc, col_sum, sums_here, bias_vec, mask_vec, sums, work, counters, split,
              n_split, row0, col0, ty, tx, t, m, n)  # fmt: skip

    return matmul_wide


RUNG = ThreadTileRung("wide", build, wide=True)
