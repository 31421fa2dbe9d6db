"""The one cache of compiled kernel variants for the ladder's tunable rungs (6-11), and what each
variant was built for.

Those rungs are built by closures over their tiles and options, because numba freezes closure
constants into the code: every loop then has constant bounds and is unrolled, local arrays stay
in registers, and an option not taken is not compiled. Each combination is one variant, compiled
once per process (and kept on disk by kernel_cache.py across processes). Rungs 1-5 are plain
module-level kernels and need no cache of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from phase4_cuda.matmul.options import KernelOptions
from phase4_cuda.matmul.tiles import TensorTiles, Tiles

__all__ = ["GemmVariant", "TensorVariant", "compiled", "compiled_variants"]


@dataclass(frozen=True)
class GemmVariant(KernelOptions):
    """What one compiled kernel of rungs 6 and 7 was built for: its tiles, the rung (`wide`:
    rung 7, else rung 6) and the options (KernelOptions)."""

    tiles: Tiles
    wide: bool = True

    def __str__(self) -> str:
        rung = "wide" if self.wide else "double_buffered"
        return f"{rung} {self.tiles}{self.options_text()}"


@dataclass(frozen=True)
class TensorVariant(KernelOptions):
    """What one compiled kernel of rungs 8-11 was built for: its tiles (one stage: rungs 8 and
    9, staged through registers; more: rungs 10 and 11, cp.async), the precision, the copy width
    of the cp.async rungs (4 floats or 1) and their options (KernelOptions), so that Phase 5's
    training step can run on the tensor cores."""

    tiles: TensorTiles
    precision: str = "tf32"
    vec: int = 4

    def __str__(self) -> str:
        if self.tiles.stages == 1:
            return f"tensor_{self.precision} {self.tiles}"
        copy = " copy4" if self.vec == 1 else ""
        return f"tensor_{self.precision}_async {self.tiles}{copy}{self.options_text()}"


_KERNELS: dict[object, object] = {}


def compiled(variant, build: Callable):
    """The kernel of `variant`, built by `build(variant)` the first time it is asked for."""
    if variant not in _KERNELS:
        _KERNELS[variant] = build(variant)
    return _KERNELS[variant]


def compiled_variants() -> dict[str, object]:
    """Every variant built so far in this process, by its readable name, in the order built."""
    return {str(variant): kernel for variant, kernel in _KERNELS.items()}
