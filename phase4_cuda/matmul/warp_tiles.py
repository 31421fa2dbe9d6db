"""What the tensor-core rungs 8-11 share: a block computes a BM x BN tile of C, its warps split it
into WM x WN tiles, each (WM/16) x (WN/8) mma tiles of 4 accumulators a lane, from tiles of A and
B staged in shared memory. The lane layout of the fragments is in ../tensor_cores.py.

Here: where a thread works (`place`), a warp's mma over its tiles (`warp_mma`), the padded
layout of the float32 tiles in shared memory and where A[r, k] and B[k, j] sit in it, and the
way out of the accumulators: the epilogue, and for rungs 10 and 11 the split-K slices
(split_k.py) and column sums. Each rung's main loop, and how it reads its fragments, is in its
own file.
"""

from __future__ import annotations

from numba import cuda, float32, uint32

from phase4_cuda.matmul.compiled import TensorVariant
from phase4_cuda.matmul.epilogues import output_writer
from phase4_cuda.matmul.split_k import last_to_arrive, reset
from phase4_cuda.matmul.tiles import TensorTiles

__all__ = [
    "as_staged",
    "check",
    "epilogue",
    "fragment_addresses",
    "outputs",
    "place",
    "shared_layout",
    "warp_mma",
]


def check(tiles: TensorTiles, precision: str) -> None:
    """ValueError before anything compiles: tiles that do not divide, or a BF16 BK that is not
    a whole number of the instruction's steps."""
    tiles.check()
    if precision == "bf16" and tiles.BK % 16:
        raise ValueError(f"{tiles}: the bf16 instruction takes 16 of K at a time: BK % 16")


def place(tiles: TensorTiles):
    """place() -> (tid, g, t, wm, wn, row0, col0): where a thread works in every tensor-core
    rung: its index in the block, its group and place in the warp (which fragment values it
    holds), its warp's tile (wm, wn) in the block's, and the block's tile (row0, col0) in C."""
    WARPS_N, WM, WN = tiles.BN // tiles.WN, uint32(tiles.WM), uint32(tiles.WN)
    U_BM, U_BN = uint32(tiles.BM), uint32(tiles.BN)

    @cuda.jit(device=True, inline="always")
    def where():
        tid = uint32(cuda.threadIdx.x)
        warp, lane = tid // uint32(32), tid % uint32(32)
        wm = (warp // uint32(WARPS_N)) * WM
        wn = (warp % uint32(WARPS_N)) * WN
        row0 = uint32(cuda.blockIdx.y) * U_BM
        col0 = uint32(cuda.blockIdx.x) * U_BN
        return tid, lane // uint32(4), lane % uint32(4), wm, wn, row0, col0

    return where


def warp_mma(MI: int, NI: int, mma):
    """multiply(frag_a, frag_b, acc): a warp's MI x NI mma tiles for one instruction's K, each
    pairing the fragments of A's mi-th 16 rows with B's ni-th 8 columns, adding into its four
    accumulators a lane (acc[(mi * NI + ni) * 4 + r])."""

    @cuda.jit(device=True, inline="always")
    def multiply(frag_a, frag_b, acc):
        for mi in range(MI):
            for ni in range(NI):
                o = (mi * NI + ni) * 4
                d0, d1, d2, d3 = mma(
                    frag_a[mi * 4], frag_a[mi * 4 + 1], frag_a[mi * 4 + 2],
                    frag_a[mi * 4 + 3], frag_b[ni * 2], frag_b[ni * 2 + 1],
                    acc[o], acc[o + 1], acc[o + 2], acc[o + 3],
                )  # fmt: skip
                acc[o], acc[o + 1], acc[o + 2], acc[o + 3] = d0, d1, d2, d3

    return multiply


@cuda.jit(device=True, inline="always")
def as_staged(x):
    """A fragment value as it sits in shared memory (rounded already, as it was staged)."""
    return x


def shared_layout(tiles: TensorTiles, trans_a: bool = False, trans_b: bool = False):
    """Row lengths (floats) of the float32 tiles in shared memory, padded so that the 32 lanes
    of a fragment read hit 32 banks and every row starts on 16 bytes: A as [row][k] (BK + 4), or
    as stored [k][row] when transposed (BM + 8); B as [k][column] (BN + 8), or [column][k]
    (BK + 4) when transposed. Returns (LDA, LDB, floats of one stage of A, of B)."""
    lda = tiles.BM + 8 if trans_a else tiles.BK + 4
    ldb = tiles.BK + 4 if trans_b else tiles.BN + 8
    stage_a = tiles.BK * lda if trans_a else tiles.BM * lda
    stage_b = tiles.BN * ldb if trans_b else tiles.BK * ldb
    return lda, ldb, stage_a, stage_b


def fragment_addresses(tiles: TensorTiles, trans_a: bool = False, trans_b: bool = False):
    """a_at(base, r, k) and b_at(base, k, j): where A[r, k] and B[k, j] of the block's tiles sit
    in shared memory, for either layout of each (shared_layout)."""
    lda, ldb, _, _ = shared_layout(tiles, trans_a, trans_b)
    U_LDA, U_LDB = uint32(lda), uint32(ldb)

    @cuda.jit(device=True, inline="always")
    def a_at(base, r, k):
        return base + (k * U_LDA + r if trans_a else r * U_LDA + k)

    @cuda.jit(device=True, inline="always")
    def b_at(base, k, j):
        return base + (j * U_LDB + k if trans_b else k * U_LDB + j)

    return a_at, b_at


def epilogue(MI: int, NI: int, activation=None, bias=False, mask=False):
    """store(c, acc, bias_vec, mask_vec, m, n, i0, j0, g, t): a warp's MI x NI mma tiles of
    accumulators (acc[(mi * NI + ni) * 4 + r]) into C, each lane its four values of the C
    fragment, rows g and g + 8, columns 2t and 2t + 1 of each tile; (i0, j0) is the warp tile's
    corner; edges guarded. On the way, the options' epilogue (epilogues.output_writer)."""
    write = output_writer(activation, bias, mask)

    @cuda.jit(device=True, inline="always")
    def put(c, v, bias_vec, mask_vec, n, i, j):
        write(c, v, bias_vec[j] if bias else float32(0.0), mask_vec, n, i, j)

    @cuda.jit(device=True, inline="always")
    def store(c, acc, bias_vec, mask_vec, m, n, i0, j0, g, t):
        for mi in range(MI):
            for ni in range(NI):
                o = (mi * NI + ni) * 4
                j = j0 + uint32(ni * 8) + uint32(2) * t
                for half in range(2):  # rows g and g + 8 of the mma tile
                    i = i0 + uint32(mi * 16 + half * 8) + g
                    if i < m:
                        if j < n:
                            put(c, acc[o + 2 * half], bias_vec, mask_vec, n, i, j)
                        if j + uint32(1) < n:
                            put(c, acc[o + 2 * half + 1], bias_vec, mask_vec, n, i, j + uint32(1))

    return store


def outputs(variant: TensorVariant):
    """store(c, acc, col_sum, sums_here, bias_vec, mask_vec, sums, work, counters, split,
    n_split, m, n, i0, j0, g, t, tid, col0): the way out of the accumulators for rungs 10 and
    11, the kernel's last step. With `split`, the split-K protocol (split_k.py): publish this
    slice's accumulators, and only the tile's last block goes on, with the sum of every slice in
    slice order. Then the column sum (thread tid of the first block row, when `sums_here`; never
    with split-K) and the epilogue."""
    MI, NI = variant.tiles.WM // 16, variant.tiles.WN // 8
    to_c = epilogue(MI, NI, variant.activation, variant.bias, variant.mask)

    @cuda.jit(device=True, inline="always")
    def publish(work, acc, z, m, n, i0, j0, g, t):
        for mi in range(MI):
            for ni in range(NI):
                for r in range(4):  # c0..c3: rows g, g, g+8, g+8; columns 2t, 2t+1
                    i = i0 + uint32(mi * 16 + (r // 2) * 8) + g
                    j = j0 + uint32(ni * 8 + r % 2) + uint32(2) * t
                    if i < m and j < n:
                        work[(z * m + i) * n + j] = acc[(mi * NI + ni) * 4 + r]

    @cuda.jit(device=True, inline="always")
    def gather(work, acc, n_split, m, n, i0, j0, g, t):
        for mi in range(MI):
            for ni in range(NI):
                for r in range(4):
                    i = i0 + uint32(mi * 16 + (r // 2) * 8) + g
                    j = j0 + uint32(ni * 8 + r % 2) + uint32(2) * t
                    if i < m and j < n:
                        v = float32(0.0)
                        for zz in range(uint32(0), n_split):
                            v += work[(zz * m + i) * n + j]
                        acc[(mi * NI + ni) * 4 + r] = v

    @cuda.jit(device=True, inline="always")
    def store(c, acc, col_sum, sums_here, bias_vec, mask_vec, sums, work, counters, split,
              n_split, m, n, i0, j0, g, t, tid, col0):  # fmt: skip
        if split:
            publish(work, acc, uint32(cuda.blockIdx.z), m, n, i0, j0, g, t)
            if not last_to_arrive(counters, n_split, tid):
                return  # (the kernel's last step: this block is done)
            gather(work, acc, n_split, m, n, i0, j0, g, t)
            reset(counters, tid)
        if sums_here and col0 + tid < n:
            sums[col0 + tid] = col_sum
        to_c(c, acc, bias_vec, mask_vec, m, n, i0, j0, g, t)

    return store
