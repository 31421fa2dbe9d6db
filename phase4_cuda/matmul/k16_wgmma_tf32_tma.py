"""Rung 16, wgmma_tf32_tma: rung 15 in TF32, as rung 14 is rung 13 in TF32: one value a word,
m64n256k8, the same 32 bytes of each row per instruction, so the tensor maps, the barriers and
the producer are rung 15's to the byte. The kernel is rung 15's `build` with TF32 tiles
(tiles.WGMMA_LARGE).
"""

from __future__ import annotations

from phase4_cuda.matmul.k15_wgmma_bf16_tma import build
from phase4_cuda.matmul.launch import TmaRung

__all__ = ["RUNG"]

RUNG = TmaRung("wgmma_tf32_tma", "tf32", 2, build)
