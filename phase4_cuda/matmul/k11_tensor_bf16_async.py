"""Rung 11, tensor_bf16_async: rung 10's cp.async pipeline with rung 9's instruction, mma.sync
m16n8k16 in bfloat16. The copies cannot convert, so the tiles sit in shared memory as float32,
and the fragments are rounded and packed in pairs (cvt.rn.bf16x2, the higher k in the high half)
as they are read: `bf16_fragments_mma` below is all this rung changes. Everything else, the
pipeline, the options and the way out, is rung 10's `pipeline`.

Measured on the H100 at n = 4096: 133.6 TFLOP/s, 20% of cuBLAS in BF16, only 2% past rung 9:
each fragment register now costs two shared loads and a conversion where rung 9's packed tiles
cost one load (`python -m phase4_cuda.benchmark --sizes 1024 2048 4096`,
results/h100-ladder-async.json). It is what `matmul(..., precision="bf16")` runs. Left out:
bfloat16 operands in memory (the rung reads and writes float32).
"""

from __future__ import annotations

from numba import cuda, uint32

from phase4_cuda.matmul import warp_tiles
from phase4_cuda.matmul.compiled import TensorVariant
from phase4_cuda.matmul.k10_tensor_tf32_async import pipeline
from phase4_cuda.matmul.launch import AsyncTensorRung
from phase4_cuda.matmul.tiles import TensorTiles
from phase4_cuda.tensor_cores import bf16x2, mma_bf16

__all__ = ["RUNG", "bf16_fragments_mma", "build"]


def bf16_fragments_mma(tiles: TensorTiles, trans_a=False, trans_b=False):
    """step(sa, sb, base_a, base_b, wm, wn, g, t, frag_a, frag_b, acc): rung 10's TF32 step in
    bfloat16: each register a pair of neighbours along K, rounded and packed as it is read from
    the float32 tiles, 16 of K per mma. Returns (step, fragment type)."""
    BK, MI, NI = tiles.BK, tiles.WM // 16, tiles.WN // 8
    a_at, b_at = warp_tiles.fragment_addresses(tiles, trans_a, trans_b)
    multiply = warp_tiles.warp_mma(MI, NI, mma_bf16)
    U1, U8 = uint32(1), uint32(8)

    @cuda.jit(device=True, inline="always")
    def pair_a(sa, base, r, k):  # A[r, k], A[r, k + 1]
        return bf16x2(sa[a_at(base, r, k + U1)], sa[a_at(base, r, k)])

    @cuda.jit(device=True, inline="always")
    def pair_b(sb, base, k, j):  # B[k, j], B[k + 1, j]
        return bf16x2(sb[b_at(base, k + U1, j)], sb[b_at(base, k, j)])

    @cuda.jit(device=True, inline="always")
    def step(sa, sb, base_a, base_b, wm, wn, g, t, frag_a, frag_b, acc):
        for kk in range(0, BK, 16):
            k = uint32(kk) + uint32(2) * t
            for mi in range(MI):
                r = wm + uint32(mi * 16) + g
                frag_a[mi * 4] = pair_a(sa, base_a, r, k)
                frag_a[mi * 4 + 1] = pair_a(sa, base_a, r + U8, k)
                frag_a[mi * 4 + 2] = pair_a(sa, base_a, r, k + U8)
                frag_a[mi * 4 + 3] = pair_a(sa, base_a, r + U8, k + U8)
            for ni in range(NI):
                j = wn + uint32(ni * 8) + g
                frag_b[ni * 2] = pair_b(sb, base_b, k, j)
                frag_b[ni * 2 + 1] = pair_b(sb, base_b, k + U8, j)
            multiply(frag_a, frag_b, acc)

    return step, uint32


def build(variant: TensorVariant):
    """The kernel of rung 11 for `variant` (BF16, two or more stages, any options)."""
    step = bf16_fragments_mma(variant.tiles, variant.trans_a, variant.trans_b)
    return pipeline(variant, step)


RUNG = AsyncTensorRung("tensor_bf16_async", "bf16", build)
