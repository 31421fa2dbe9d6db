"""Rung 13, wgmma_bf16_2wg: rung 12 with two warpgroups a block sharing each tile of B. Rung 12
copies a 128-column tile of B^T for one warpgroup's 64 rows of A: per step, 8 KB of A and 16 KB
of B for 64 x 128 x 64 multiply-adds. Two warpgroups on a 128 x 256 tile of C copy 16 KB of A
and 32 KB of B for four times the work, so each byte copied feeds twice the FLOPs; each
warpgroup issues m64n256k16, its own 64 rows against the whole B tile. 4 stages take 193 KB of
shared memory (one block a multiprocessor) and 242 registers, no spill. The kernel is rung
12's `build`; only the tiles change (tiles.WGMMA_LARGE).

Measured on the H100 (results/h100-wgmma.json, `python -m phase4_cuda.wgmma_bench --sweep`):
520 TFLOP/s at n = 4096, 380 at 2048, GPU time of the product on staged operands; with the
staging (86 and 28 us) 393 and 235: 2.9x rung 11 at 4096, and what `matmul(...,
precision="bf16")` runs on Hopper from 2048 x 2048 outputs (ladder.FASTEST). cuBLAS BF16 in
the same run: 781 and 695; Triton BF16 (the tutorial's kernel) 664 and 570. At n = 1024 the
128 x 256 tile makes 32 blocks for 132 multiprocessors (87 TFLOP/s): there the rung takes
128 x 128 (133), and rung 12 is faster still (170). Measured and slower at 4096: 3 stages
(398), 128 x 128 (413).
"""

from __future__ import annotations

from phase4_cuda.matmul.k12_wgmma_bf16 import build
from phase4_cuda.matmul.launch import WgmmaRung

__all__ = ["RUNG"]

RUNG = WgmmaRung("wgmma_bf16_2wg", "bf16", 2, build)
