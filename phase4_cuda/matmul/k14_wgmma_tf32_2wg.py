"""Rung 14, wgmma_tf32_2wg: rung 13 in TF32. The staging pass rounds each float32 to TF32
(cvt.rna.tf32) and keeps one value a word, so a 128-byte row of a tile holds 32 values of K,
half of BF16's, and each wgmma (m64n256k8) takes 8 of K where BF16's takes 16: the same 32
bytes of each row per instruction, so the descriptors, the swizzle and the pipeline are rung
13's to the byte, and half the multiply-adds per byte copied. The kernel is rung 12's `build`
with TF32 tiles (tiles.WGMMA_LARGE).

Measured on the H100 (results/h100-wgmma.json, `python -m phase4_cuda.wgmma_bench --sweep`):
303 TFLOP/s at n = 4096, 252 at 2048, GPU time of the product on staged operands (128 x 128
tiles at 1024: 92); with the staging (132, 40 and 15 us) 235, 159 and 55: 2.0x rung 10 at
4096, and what `matmul(..., precision="tf32")` runs on Hopper from 1024 x 1024 outputs
(ladder.FASTEST). cuBLAS TF32 in the same run: 397, 349 and 143.
"""

from __future__ import annotations

from phase4_cuda.matmul.k12_wgmma_bf16 import build
from phase4_cuda.matmul.launch import WgmmaRung

__all__ = ["RUNG"]

RUNG = WgmmaRung("wgmma_tf32_2wg", "tf32", 2, build)
