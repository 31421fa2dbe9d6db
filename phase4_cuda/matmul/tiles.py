"""The tile shapes of the ladder's tunable rungs, and the tables that choose them per problem size.

`Tiles` are the block and thread tiles of the float32 rungs 6 and 7; `TensorTiles` the block and
warp tiles of the tensor-core rungs 8-11; `WgmmaTiles` the block tiles and warpgroups of the
wgmma rungs 12-16. Each checks that its shape divides evenly among its threads before anything
compiles. Rungs 1-5 have fixed tiles, written in their own files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from numba import cuda

from phase4_cuda.device import simulated
from phase4_cuda.wgmma import ATOM_BYTES, ROW_BYTES

__all__ = [
    "SHARED_LIMIT",
    "TC_FILL",
    "TC_LARGE",
    "TC_SIMULATED",
    "TC_SIMULATED_ASYNC",
    "TC_SIMULATED_NARROW",
    "TC_SIMULATED_NARROW_ASYNC",
    "TC_SMALL",
    "TUNED",
    "WGMMA_LARGE",
    "WGMMA_SIMULATED",
    "WGMMA_SMALL",
    "TensorTiles",
    "Tiles",
    "WgmmaTiles",
    "tensor_tiles_for",
    "tiles_for",
    "wgmma_tiles_for",
]

#: the most static shared memory one kernel may declare (more needs dynamic shared memory and an
#: opt-in that numba does not offer)
SHARED_LIMIT = 48 * 1024


@dataclass(frozen=True)
class Tiles:
    """Block tile BM x BN, BK deep; each thread computes TM x TN outputs (rungs 6 and 7)."""

    BM: int = 128
    BN: int = 128
    BK: int = 8
    TM: int = 8
    TN: int = 8
    #: blocks that must fit on one multiprocessor at once (`launch_bounds`): 2 caps a 256-thread
    #: kernel at 128 registers, so two blocks share an SM and hide each other's waits.
    min_blocks: int = 1
    #: load the next step's operands from shared memory while this step's FMAs run (rung 7 only)
    prefetch: bool = False

    @property
    def threads(self) -> int:
        return (self.BM // self.TM) * (self.BN // self.TN)

    def check(self) -> None:
        t = self.threads
        ok = (
            self.BM % self.TM == 0
            and self.BN % self.TN == 0
            and (self.BM * self.BK) % t == 0
            and (self.BK * self.BN) % t == 0
            and 32 <= t <= 1024
        )
        if not ok:
            raise ValueError(f"{self}: tiles must divide evenly among 32..1024 threads")

    def __str__(self) -> str:
        bound = f" min{self.min_blocks}" if self.min_blocks > 1 else ""
        pre = " prefetch" if self.prefetch else ""
        return f"{self.BM}x{self.BN}x{self.BK}/{self.TM}x{self.TN}{bound}{pre}"


#: The tile sizes rungs 6 and 7 use, by the largest of M and N. Chosen with
#: `nox -s phase4 -- --autotune` on the H100 (see README.md): for small products a small block
#: tile gives more blocks to the 132 multiprocessors (at n <= 1024 the differences between
#: candidates are within the run-to-run spread); for large ones the deepest tile with two blocks
#: per multiprocessor and operand prefetch wins.
TUNED: list[tuple[int, Tiles]] = [
    (1024, Tiles(64, 64, 8, 4, 4)),
    (1 << 62, Tiles(128, 128, 16, 8, 8, min_blocks=2, prefetch=True)),
]


def tiles_for(m: int, n: int) -> Tiles:
    """The tiles rungs 6 and 7 use for an (m, n) output (see TUNED)."""
    size = max(m, n)
    return next(t for limit, t in TUNED if size <= limit)


@dataclass(frozen=True)
class TensorTiles:
    """Block tile BM x BN, BK deep; warp tile WM x WN; `stages` shared buffers for the
    cp.async rungs (10, 11) to cycle through (rungs 8 and 9 stage through registers: one)."""

    BM: int = 128
    BN: int = 128
    BK: int = 32
    WM: int = 64
    WN: int = 32
    stages: int = 1

    @property
    def warps(self) -> int:
        return (self.BM // self.WM) * (self.BN // self.WN)

    @property
    def threads(self) -> int:
        return 32 * self.warps

    def check(self) -> None:
        if self.BM % self.WM or self.BN % self.WN or self.WM % 16 or self.WN % 8 or self.BK % 8:
            raise ValueError(f"{self}: warp tiles must divide the block tile, in 16 x 8 mma tiles")
        share = self.threads * (4 if self.stages > 1 else 1)  # cp.async: 16-byte copies
        if (self.BM * self.BK) % share or (self.BK * self.BN) % share:
            raise ValueError(f"{self}: the threads must share the tiles' loads evenly")
        if self.stages > 1 and self.shared_bytes > SHARED_LIMIT:
            raise ValueError(
                f"{self}: {self.stages} stages need {self.shared_bytes} bytes of shared memory; "
                f"a kernel's static shared memory is limited to {SHARED_LIMIT}"
            )

    @property
    def shared_bytes(self) -> int:
        """Shared memory of the cp.async rungs: `stages` float32 tiles of A and B, padded."""
        return 4 * self.stages * (self.BM * (self.BK + 4) + self.BK * (self.BN + 8))

    def __str__(self) -> str:
        text = f"{self.BM}x{self.BN}x{self.BK}/warp {self.WM}x{self.WN}"
        return text + (f" x{self.stages} stages" if self.stages > 1 else "")


#: The block and warp tiles the tensor-core rungs run with, per rung, the fastest of seven
#: measured for each on the H100 (results/h100-tensor-tiles.json): 128x128 blocks of four 64x64
#: warp tiles (32 mma per step of the instruction's K, for 16 + 16 fragment reads) where the
#: output has enough of them to fill the GPU, else 64x64 blocks of four 32x32 warp tiles; BK 16
#: for TF32 (32 spilled registers past it), 32 for BF16 (two of its 16-deep steps per barrier).
#: The cp.async rungs (10, 11), the fastest of nine measured for each precision on the H100
#: (results/h100-async-tiles.json): the same 128x128 blocks of 64x64 warp tiles, BK 16, with two
#: float32 buffers in shared memory (38 KB of the 48 a kernel may declare); three or four stages
#: fit only with BK 8 or smaller blocks, and both measured slower. Their small tiles, four stages
#: of 64x64, run only for outputs of fewer than 64 blocks (TC_FILL).
TC_LARGE = {
    "tensor_tf32": TensorTiles(128, 128, 16, 64, 64),
    "tensor_bf16": TensorTiles(128, 128, 32, 64, 64),
    "tensor_tf32_async": TensorTiles(128, 128, 16, 64, 64, stages=2),
    "tensor_bf16_async": TensorTiles(128, 128, 16, 64, 64, stages=2),
}
TC_SMALL = {
    "tensor_tf32": TensorTiles(64, 64, 16, 32, 32),
    "tensor_bf16": TensorTiles(64, 64, 32, 32, 32),
    "tensor_tf32_async": TensorTiles(64, 64, 16, 32, 32, stages=4),
    "tensor_bf16_async": TensorTiles(64, 64, 16, 32, 32, stages=4),
}
#: In the simulator, where each CUDA thread is a Python thread and every mma a barrier of 32 of
#: them, small tiles that still have several mma tiles per warp: the same index arithmetic on
#: odd shapes in seconds instead of minutes.
TC_SIMULATED = TensorTiles(64, 32, 16, 32, 16)
TC_SIMULATED_ASYNC = TensorTiles(64, 32, 16, 32, 16, stages=3)
#: The same for outputs at most 16 columns wide (a small network's layers): half the warps of
#: the tiles above would compute only zeros there, and each of their mma costs the simulator as
#: much as a useful one.
TC_SIMULATED_NARROW = TensorTiles(64, 16, 32, 32, 8)
TC_SIMULATED_NARROW_ASYNC = TensorTiles(64, 16, 32, 32, 8, stages=3)
#: Below how many large blocks a rung takes its small tiles. Rungs 8 and 9: the H100's 132
#: multiprocessors (fewer blocks leave some idle). Rungs 10 and 11: 64, measured: at n = 1024 the
#: 64 large blocks (half the GPU idle) beat 256 small ones by 20-25%, a 64x64 warp tile doing
#: twice the mma per fragment read of a 32x32 one.
TC_FILL = {"tensor_tf32": 132, "tensor_bf16": 132, "tensor_tf32_async": 64, "tensor_bf16_async": 64}


def tensor_tiles_for(m: int, n: int, version: str = "tensor_tf32") -> TensorTiles:
    """The tiles a tensor-core rung uses for an (m, n) output (see TC_LARGE)."""
    large = TC_LARGE[version]
    if simulated():
        if n <= TC_SIMULATED_NARROW.BN:
            return TC_SIMULATED_NARROW_ASYNC if large.stages > 1 else TC_SIMULATED_NARROW
        return TC_SIMULATED_ASYNC if large.stages > 1 else TC_SIMULATED
    blocks = math.ceil(m / large.BM) * math.ceil(n / large.BN)
    return large if blocks >= TC_FILL[version] else TC_SMALL[version]


@dataclass(frozen=True)
class WgmmaTiles:
    """One shape of the wgmma rungs (12-16): BN columns of C per block (the wgmma's n),
    `warpgroups` of 64 rows each (BM = 64 * warpgroups), `stages` shared buffers of 128 bytes of
    K (the swizzle's span: 64 bf16 or 32 tf32), and the precision; `tma`: the tiles arrive by
    TMA, issued by one more warpgroup of their own (rungs 15, 16), not by cp.async from the
    warpgroups that multiply."""

    BN: int = 256
    warpgroups: int = 2
    stages: int = 4
    precision: str = "bf16"
    tma: bool = False

    @property
    def BM(self) -> int:
        return 64 * self.warpgroups

    @property
    def threads(self) -> int:
        return 128 * (self.warpgroups + self.tma)

    @property
    def shared_bytes(self) -> int:
        """The buffers, plus one atom of slack to put the first on a 1024-byte boundary."""
        return self.stages * (self.BM + self.BN) * ROW_BYTES + ATOM_BYTES

    def check(self) -> None:
        if self.precision not in ("bf16", "tf32"):
            raise ValueError(
                f"unknown precision {self.precision!r}; expected one of ['bf16', 'tf32']"
            )
        if not (8 <= self.BN <= 256 and self.BN % (16 * self.warpgroups) == 0):
            raise ValueError(f"{self}: BN must be 8..256 and share its rows' copies evenly")
        if self.stages < 3 or self.shared_bytes > 227 * 1024:
            raise ValueError(f"{self}: 3 or more stages in 227 KB, not {self.shared_bytes} bytes")

    def __str__(self) -> str:
        feed = " tma" if self.tma else ""
        return f"{self.precision} {self.BM}x{self.BN} {self.warpgroups}wg {self.stages}st{feed}"


#: The shapes the wgmma rungs run with, measured on the H100 (results/h100-wgmma.json, GPU time
#: of the product on staged operands, TFLOP/s at n = 1024 / 2048 / 4096). One warpgroup (rung
#: 12): 64 x 128 with 4 stages (170 / 296 / 350; 5 stages 162 / 252 / 296; at 64 x 256 its 128
#: accumulators and its copies' addresses spill). Two warpgroups (rungs 13, 14): 128 x 256 with
#: 4 stages where its grid fills at least half the multiprocessors (bf16 380 / 520 at 2048 /
#: 4096, against 334 / 413 for 128 x 128 and 332 / 398 for 3 stages; tf32 252 / 303 against
#: 204 / 237), else 128 x 128: at n = 1024 the 128 x 256 tile makes 32 blocks for 132
#: multiprocessors (bf16 87 against 133, tf32 59 against 92).
WGMMA_LARGE = {
    "wgmma_bf16": WgmmaTiles(128, 1, 4, "bf16"),
    "wgmma_bf16_2wg": WgmmaTiles(256, 2, 4, "bf16"),
    "wgmma_tf32_2wg": WgmmaTiles(256, 2, 4, "tf32"),
    "wgmma_bf16_tma": WgmmaTiles(256, 2, 4, "bf16", tma=True),
    "wgmma_tf32_tma": WgmmaTiles(256, 2, 4, "tf32", tma=True),
}
WGMMA_SMALL = {
    "wgmma_bf16": WgmmaTiles(128, 1, 4, "bf16"),
    "wgmma_bf16_2wg": WgmmaTiles(128, 2, 4, "bf16"),
    "wgmma_tf32_2wg": WgmmaTiles(128, 2, 4, "tf32"),
    "wgmma_bf16_tma": WgmmaTiles(128, 2, 4, "bf16", tma=True),
    "wgmma_tf32_tma": WgmmaTiles(128, 2, 4, "tf32", tma=True),
}
#: In the simulator: 64 columns and 3 stages, the fewest the pipeline takes, so that a block's
#: 128 or 256 Python threads cross few barriers; every descriptor, swizzle and fragment is the
#: same as at full size, for 64 rows of B^T instead of 256.
WGMMA_SIMULATED = {
    version: WgmmaTiles(64, tiles.warpgroups, 3, tiles.precision, tiles.tma)
    for version, tiles in WGMMA_LARGE.items()
}


def wgmma_tiles_for(m: int, n: int, version: str = "wgmma_bf16_2wg") -> WgmmaTiles:
    """The shape a wgmma rung runs with for an (m, n) output (see WGMMA_LARGE)."""
    if simulated():
        return WGMMA_SIMULATED[version]
    large = WGMMA_LARGE[version]
    sms = cuda.get_current_device().MULTIPROCESSOR_COUNT
    if math.ceil(m / large.BM) * math.ceil(n / large.BN) >= sms // 2:
        return large
    return WGMMA_SMALL[version]
