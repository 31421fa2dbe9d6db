"""What the float32 rungs 6 and 7 share: each thread computes a TM x TN tile of C in registers,
a block a BM x BN tile, from tiles of A and B staged in shared memory BK at a time. Rung 6 owns
strided rows and columns, rung 7 runs of 4 adjacent ones; each rung passes its own map (the row
and column offsets of a thread's outputs from its first) to the builders here.

Here: the checks, the shared-memory layout, the checked loads of A and B (any layout, any
shape: global -> registers -> shared), the outer product, and the way out of the registers:
the split-K slices (published and summed, split_k.py) and the epilogue (epilogues.py). Each is a
small device function with its options as closure constants, inlined into the rung's kernel:
what a kernel does not ask for is not compiled. Not here: each rung's main loop, in its file.
"""

from __future__ import annotations

from numba import cuda, float32, uint32

from phase4_cuda.device import simulated
from phase4_cuda.matmul.compiled import GemmVariant
from phase4_cuda.matmul.epilogues import output_writer
from phase4_cuda.matmul.split_k import last_to_arrive, reset
from phase4_cuda.matmul.tiles import Tiles

__all__ = [
    "add_column",
    "check",
    "checked_loads",
    "launch_bounds",
    "outer_product",
    "outputs",
    "shared_rows",
]


def check(variant: GemmVariant) -> None:
    """ValueError before anything compiles: tiles that do not divide among the threads, or
    column sums with fewer threads than columns (one thread sums one column)."""
    variant.tiles.check()
    if variant.col_sums and variant.tiles.threads < variant.tiles.BN:
        raise ValueError(f"{variant.tiles}: col_sums needs at least BN threads")


def shared_rows(tiles: Tiles, trans_b: bool) -> tuple[int, int]:
    """(LDA, LDB): the floats of one row of the shared A tile (stored transposed, one row per k)
    and of the B tile (one row per k)."""
    # The 4 floats of padding shift each row of A by 4 banks: the transposing stores (a warp
    # writes 8 k-rows x 4 rows of A) hit 32 different banks instead of 4, and rows stay 16-byte
    # aligned for the 128-bit loads.
    lda = tiles.BM + 4
    # A transposed B is written across k, so it gets the same padding as A; a plain B is written
    # along its rows and needs none.
    ldb = tiles.BN + 4 if trans_b else tiles.BN
    return lda, ldb


def launch_bounds(tiles: Tiles) -> dict:
    """cuda.jit's launch_bounds for `tiles.min_blocks` blocks per multiprocessor. The simulator
    rejects launch_bounds; it has no registers to bound anyway."""
    return {} if simulated() else {"launch_bounds": (tiles.threads, tiles.min_blocks)}


def checked_loads(tiles: Tiles, trans_a: bool = False, trans_b: bool = False):
    """fetch(a, b, k0, row0, col0, t, m, n, k_dim, k_end, next_a, next_b): this thread's share
    of the A tile (BM x BK) and the B tile (BK x BN) at k0, from global memory into registers,
    each load bounds-checked (0 past an edge or past k_end, where this block's slice of K ends);
    stash(sa, sb, off_a, off_b, t, next_a, next_b): the same values from the registers into one
    shared buffer (A transposed), at offsets off_a and off_b. Consecutive threads read
    consecutive elements of a stored row, whichever way A and B are stored."""
    BM, BN, BK, THREADS = tiles.BM, tiles.BN, tiles.BK, tiles.threads
    LOAD_A, LOAD_B = BM * BK // THREADS, BK * BN // THREADS
    TA, TB = trans_a, trans_b
    LDA, LDB = shared_rows(tiles, trans_b)
    U_LDA, U_LDB = uint32(LDA), uint32(LDB)
    U_BM, U_BN = uint32(BM), uint32(BN)
    # Loads of A (and of a transposed B) run along k, KQ elements per row and 32 // KQ rows per
    # warp: 32-byte pieces of 4 rows in global memory, 32 different banks in shared memory.
    KQ = 8 if BK % 8 == 0 else BK
    U_KQ = uint32(KQ)

    @cuda.jit(device=True, inline="always")
    def fetch(a, b, k0, row0, col0, t, m, n, k_dim, k_end, next_a, next_b):
        for l in range(LOAD_A):
            e = t + uint32(l * THREADS)
            if TA:  # A stored (K, M): a row of it is a column of op(A)
                gk, gi = k0 + e // U_BM, row0 + e % U_BM
                next_a[l] = a[gk * m + gi] if gi < m and gk < k_end else float32(0.0)
            else:
                rest = e // U_KQ
                gi, gk = row0 + rest % U_BM, k0 + (rest // U_BM) * U_KQ + e % U_KQ
                next_a[l] = a[gi * k_dim + gk] if gi < m and gk < k_end else float32(0.0)
        for l in range(LOAD_B):
            e = t + uint32(l * THREADS)
            if TB:  # B stored (N, K)
                rest = e // U_KQ
                gj, gk = col0 + rest % U_BN, k0 + (rest // U_BN) * U_KQ + e % U_KQ
                next_b[l] = b[gj * k_dim + gk] if gk < k_end and gj < n else float32(0.0)
            else:
                gk, gj = k0 + e // U_BN, col0 + e % U_BN
                next_b[l] = b[gk * n + gj] if gk < k_end and gj < n else float32(0.0)

    @cuda.jit(device=True, inline="always")
    def stash(sa, sb, off_a, off_b, t, next_a, next_b):
        for l in range(LOAD_A):
            e = t + uint32(l * THREADS)
            if TA:
                sa[off_a + (e // U_BM) * U_LDA + e % U_BM] = next_a[l]
            else:
                rest = e // U_KQ
                sa[off_a + ((rest // U_BM) * U_KQ + e % U_KQ) * U_LDA + rest % U_BM] = next_a[l]
        for l in range(LOAD_B):
            e = t + uint32(l * THREADS)
            if TB:
                rest = e // U_KQ
                sb[off_b + ((rest // U_BN) * U_KQ + e % U_KQ) * U_LDB + rest % U_BN] = next_b[l]
            else:
                sb[off_b + e] = next_b[l]

    return fetch, stash


def outer_product(TM: int, TN: int):
    """outer(acc, reg_a, reg_b): acc[r, q] += reg_a[r] * reg_b[q], TM x TN FMAs."""

    @cuda.jit(device=True, inline="always")
    def outer(acc, reg_a, reg_b):
        for r in range(TM):
            for q in range(TN):
                acc[r, q] += reg_a[r] * reg_b[q]

    return outer


def add_column(tiles: Tiles, trans_b: bool):
    """add_column(total, sb, base, t): total plus the BK values of column t of the B tile in
    shared memory at `base` (rows past K hold zeros), added one by one in order of k."""
    BK = tiles.BK
    _, LDB = shared_rows(tiles, trans_b)

    @cuda.jit(device=True, inline="always")
    def add(total, sb, base, t):
        for kk in range(BK):
            total += sb[base + uint32(kk * LDB) + t]
        return total

    return add


def outputs(variant: GemmVariant, row_off: tuple[int, ...], col_off: tuple[int, ...]):
    """store(c, acc, col_sum, sums_here, bias_vec, mask_vec, sums, work, counters, split,
    n_split, row0, col0, ty, tx, t, m, n): the way out of a thread's accumulators, the kernel's
    last step. acc[r, q] is output (row0 + ty + row_off[r], col0 + tx + col_off[q]); edges are
    guarded. With `split`, the split-K protocol (split_k.py): publish this slice's tile and
    column sum, and only the tile's last block goes on, with the sums of every slice. Then the
    column sum (thread t of the first block row, when `sums_here`) and the epilogue."""
    TM, TN = variant.tiles.TM, variant.tiles.TN
    ROW_OFF, COL_OFF = row_off, col_off
    HAS_BIAS = variant.bias
    write = output_writer(variant.activation, variant.bias, variant.mask)

    @cuda.jit(device=True, inline="always")
    def publish(work, acc, z, row0, col0, ty, tx, m, n):
        for q in range(TN):
            j = col0 + tx + uint32(COL_OFF[q])
            for r in range(TM):
                i = row0 + ty + uint32(ROW_OFF[r])
                if i < m and j < n:
                    work[(z * m + i) * n + j] = acc[r, q]

    @cuda.jit(device=True, inline="always")
    def gather(work, acc, n_split, row0, col0, ty, tx, m, n):
        for q in range(TN):
            j = col0 + tx + uint32(COL_OFF[q])
            for r in range(TM):
                i = row0 + ty + uint32(ROW_OFF[r])
                if i < m and j < n:
                    v = float32(0.0)
                    for zz in range(uint32(0), n_split):
                        v += work[(zz * m + i) * n + j]
                    acc[r, q] = v

    @cuda.jit(device=True, inline="always")
    def epilogue(c, acc, bias_vec, mask_vec, row0, col0, ty, tx, m, n):
        for q in range(TN):
            j = col0 + tx + uint32(COL_OFF[q])
            bias_j = bias_vec[j] if HAS_BIAS and j < n else float32(0.0)  # once per column
            for r in range(TM):
                i = row0 + ty + uint32(ROW_OFF[r])
                if i < m and j < n:
                    write(c, acc[r, q], bias_j, mask_vec, n, i, j)

    @cuda.jit(device=True, inline="always")
    def store(c, acc, col_sum, sums_here, bias_vec, mask_vec, sums, work, counters, split,
              n_split, row0, col0, ty, tx, t, m, n):  # fmt: skip
        if split:
            z = uint32(cuda.blockIdx.z)
            publish(work, acc, z, row0, col0, ty, tx, m, n)
            sums_at = n_split * m * n  # the slices' column sums follow their tiles
            if sums_here and col0 + t < n:
                work[sums_at + z * n + col0 + t] = col_sum
            if not last_to_arrive(counters, n_split, t):
                return  # (the kernel's last step: this block is done)
            gather(work, acc, n_split, row0, col0, ty, tx, m, n)
            if sums_here and col0 + t < n:
                col_sum = float32(0.0)
                for zz in range(uint32(0), n_split):
                    col_sum += work[sums_at + zz * n + col0 + t]
            reset(counters, t)
        if sums_here and col0 + t < n:
            sums[col0 + t] = col_sum
        epilogue(c, acc, bias_vec, mask_vec, row0, col0, ty, tx, m, n)

    return store
