"""How the GPU step shapes its matrix products: the block tiles and split-K counts it picks for
the small outputs of a training step (a 128-row batch gives too few tiles to fill the GPU), and
`Product`, one product of a step with the choices made for it.

The products themselves are Phase 4's matmul kernels (`plan`); this file only chooses their
options. The choices were measured per product with `python -m phase5_training.tune_step`
(README.md, "Where the GPU step's time goes").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from phase4_cuda.device import simulated
from phase4_cuda.matmul import Launch, TensorTiles, Tiles, plan
from phase4_cuda.matmul.tiles import tensor_tiles_for

__all__ = [
    "MAX_SPLIT", "SMALL_TILES", "TENSOR_MAX_SPLIT", "TENSOR_MIN_K_TILES", "TENSOR_TILES",
    "Product", "split_for_step", "tiles_for_step",
]  # fmt: skip

#: block tiles for the step's small products, largest first: the first one that gives at least
#: half the multiprocessors a block is used (MNIST's products are 128 rows tall). They are 32
#: deep, not Phase 4's 8: with so few blocks each one's loop over K is a chain of global-load
#: latencies (about 0.6 us per tile of K on the H100, measured with ncu), so fewer, deeper tiles
#: are what makes these products fast.
SMALL_TILES = (Tiles(64, 64, 32, 4, 4), Tiles(32, 64, 32, 4, 4), Tiles(32, 32, 32, 4, 4))

#: The same for the tensor-core products (precision tf32 or bf16; Phase 4's rungs 10 and 11),
#: measured per product with `python -m phase5_training.tune_step --precision tf32` on the H100
#: (README.md): 32 deep, like SMALL_TILES, for the same reason (fewer steps in each block's chain
#: of load latencies); 32 x 32 blocks of four 16 x 16 warp tiles with four cp.async stages for
#: the 128-row products, 64 x 64 blocks with two stages where the output has enough of them.
TENSOR_TILES = (
    TensorTiles(64, 64, 32, 32, 32, stages=2),
    TensorTiles(32, 32, 32, 16, 16, stages=4),
)


def tiles_for_step(m: int, n: int, sms: int, candidates=SMALL_TILES):
    """Block tiles for an (m, n) output in a training step or evaluation: the largest of
    `candidates` (SMALL_TILES, or TENSOR_TILES) that still spreads over half the
    multiprocessors. (Evaluation's 4096-row products would gain little from Phase 4's big tiles
    and would cost two more compilations.) The simulator's tensor-core tiles are Phase 4's."""
    if candidates is TENSOR_TILES and simulated():
        return tensor_tiles_for(m, n, "tensor_tf32_async")
    for t in candidates:
        if math.ceil(m / t.BM) * math.ceil(n / t.BN) >= sms // 2:
            return t
    return candidates[-1]


#: split-K helps only where K is long: measured per product on the H100 (`python -m
#: phase5_training.tune_step`, README.md), 4 slices beat 5-12 for the forward products, and the
#: weight gradients (K = 128, four tiles) were slower split at all.
MAX_SPLIT = 4
#: the same for the tensor-core products (4 beat 2, 8 and 12 over a whole step), which split K
#: only past 16 tiles of it: at K = 256 and 512 one slice measured faster than two or four.
TENSOR_MAX_SPLIT = 4
TENSOR_MIN_K_TILES = 16


def split_for_step(
    m: int, n: int, k: int, tiles, sms: int, max_split: int = MAX_SPLIT, min_k_tiles: int = 4
) -> int:
    """Slices of K (split-K) for an (m, n) output with inner size k: for an output too small to
    give every multiprocessor a block and a K of more than `min_k_tiles` tiles, up to
    `max_split` slices of at least two tiles each."""
    blocks = math.ceil(m / tiles.BM) * math.ceil(n / tiles.BN)
    k_tiles = math.ceil(k / tiles.BK)
    if blocks >= sms or k_tiles <= min_k_tiles:
        return 1
    return max(1, min(max_split, k_tiles // 2, math.ceil(2 * sms / blocks)))


@dataclass(frozen=True)
class Product:
    """One matrix product of a step: Phase 4's `plan` arguments (operands and epilogue options),
    the tiles and split-K count chosen for it, and the launch they make."""

    name: str  # "forward 1", "dW 2", "delta 1": the layer it belongs to, counted from 1
    # Phase 4's plan's names: c (m, n) = A (m, k) @ B (k, n), A being `a` or, with trans_a in
    # `options`, its transpose (B likewise)
    a: object
    b: object
    c: object
    k: int  # the inner size
    options: dict  # bias, activation, trans_a, trans_b, mask, col_sums
    tiles: Tiles | TensorTiles
    split: int
    launch: Launch
    version: str = "wide"  # Phase 4's version: wide (fp32) or a tensor-core rung

    def replan(self, tiles: Tiles | TensorTiles, split: int, stream=0) -> Launch:
        """The same product with other tiles or split (tune_step compares them)."""
        return plan(self.version, self.a, self.b, self.c, tiles=tiles, split=split,
                    stream=stream, **self.options)  # fmt: skip
