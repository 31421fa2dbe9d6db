"""How a rung of the ladder is launched: `Launch`, one planned kernel launch, and the five kinds
of rung that `plan()` (ladder.py) turns into one.

Every rung is one of these, declared in its own file as `RUNG`, and each kind keeps one small
contract, so that `plan()` never asks which kind it holds:

    version, precision     its name in VERSIONS and what it computes in ('fp32', 'tf32', 'bf16')
    needs                  its key of precisions.NEEDS_CC: its precision, or 'wgmma'
    takes_options          whether it takes the training step's options (options.py)
    plan(a, b, c, tiles, options, stream) -> Launch
                           its grid, block and arguments for c (M, N) = op(a) @ op(b), from
                           C-contiguous float32 device arrays, with no checks of the data

    PlainRung        rungs 1-5: a fixed tile of C per block, the plain product
    ThreadTileRung   rungs 6, 7: Tiles (a tile of outputs per thread), every option
    TensorRung       rungs 8, 9: TensorTiles of one stage, the plain product
    AsyncTensorRung  rungs 10, 11: TensorTiles of two or more stages, every option but
                     column sums with split-K
    WgmmaRung        rungs 12-16: WgmmaTiles, the plain product on Hopper's wgmma, after a pass
                     that stages the operands (staging.py), with more than 48 KB of shared memory
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from phase4_cuda.device import DEFAULT_SHARED, allow_shared, configure
from phase4_cuda.matmul import split_k, staging
from phase4_cuda.matmul.compiled import GemmVariant, TensorVariant, compiled
from phase4_cuda.matmul.options import KernelOptions, Options
from phase4_cuda.matmul.tiles import (
    TensorTiles,
    Tiles,
    WgmmaTiles,
    tensor_tiles_for,
    tiles_for,
    wgmma_tiles_for,
)

__all__ = ["AsyncTensorRung", "Launch", "PlainRung", "TensorRung", "ThreadTileRung", "WgmmaRung"]


@dataclass(frozen=True)
class Launch:
    """One planned kernel launch: the kernel, its grid and block, its arguments and the stream;
    `shared`, bytes of dynamic shared memory (the opt-in past 48 KB is made here); `before`, the
    launches that must run first on the same stream (the wgmma rungs' staging). Calling it
    launches them (asynchronously, no checks); the launch configuration is made once, here, so
    a step that replays its launches pays only for the launch itself (and the first call, past
    48 KB of shared memory, for the driver's opt-in: device.allow_shared)."""

    kernel: object
    grid: tuple[int, ...]
    block: int | tuple[int, ...]
    args: tuple
    stream: object = 0
    shared: int = 0
    before: tuple[Launch, ...] = ()
    _configured: object = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        configured = configure(self.kernel, self.grid, self.block, self.stream, self.shared)
        if self.shared > DEFAULT_SHARED:  # the opt-in at the first launch: planning needs no GPU

            def first(*args, configured=configured):
                allow_shared(self.kernel, args, self.shared)
                object.__setattr__(self, "_configured", configured)
                configured(*args)

            object.__setattr__(self, "_configured", first)
        else:
            object.__setattr__(self, "_configured", configured)

    def __call__(self) -> None:
        for launch in self.before:
            launch()
        self._configured(*self.args)


def _aligned16(x) -> bool:
    """Whether a device array starts on a 16-byte boundary (the simulator has no addresses)."""
    interface = getattr(x, "__cuda_array_interface__", None)
    return interface is None or interface["data"][0] % 16 == 0


def _flat(a, b, c, k_dim: int) -> tuple:
    """1-D views of a, b, c and the sizes m, n, k_dim as uint32 (the kernels from rung 5 on)."""
    m, n = c.shape
    sizes = (np.uint32(m), np.uint32(n), np.uint32(k_dim))
    return (a.reshape(a.size), b.reshape(b.size), c.reshape(c.size), *sizes)


def _grid(c, rows: int, columns: int) -> tuple[int, int]:
    """Blocks of `rows` x `columns` outputs over c (M, N)."""
    m, n = c.shape
    return math.ceil(n / columns), math.ceil(m / rows)


def _refuse_tiles(version: str, tiles, kind) -> None:
    if tiles is not None and not isinstance(tiles, kind or ()):
        takes = f"{kind.__name__} tiles" if kind else "no tiles (its own are fixed)"
        raise ValueError(f"version {version!r} takes {takes}, not {tiles!r}")


@dataclass(frozen=True)
class PlainRung:
    """Rungs 1-5: `kernel` computes the plain product A (M, K) @ B (K, N) in blocks of `block`
    threads, each block the `tile` = (rows, columns) of C; `flat`: it takes 1-D views and the
    sizes as uint32 (rung 5), else the 2-D arrays."""

    version: str
    kernel: object
    block: int | tuple[int, int]
    tile: tuple[int, int]
    flat: bool = False
    precision: str = "fp32"
    takes_options = False

    @property
    def needs(self) -> str:
        return self.precision

    def plan(self, a, b, c, tiles, options: Options, stream) -> Launch:
        _refuse_tiles(self.version, tiles, None)
        args = _flat(a, b, c, a.shape[1]) if self.flat else (a, b, c)
        return Launch(self.kernel, _grid(c, *self.tile), self.block, args, stream)


def _with_options(a, b, c, options: Options, grid, sizes: tuple) -> tuple:
    """The arguments of the rungs that take options: a, b, bias, mask, sums, workspace,
    counters, c (all flat), then `sizes`. The workspace and counters are allocated here, once
    per planned launch (so plan once per launch site)."""
    m, n = c.shape
    fc = c.reshape(c.size)
    work = split_k.workspace(options.split, m, n, grid[0] * grid[1], fc[:1])
    return (a.reshape(a.size), b.reshape(b.size), *options.arrays(c), *work, fc, *sizes)


@dataclass(frozen=True)
class ThreadTileRung:
    """Rungs 6 and 7: op(A) @ op(B) with the training step's options, on `Tiles` (default:
    tiles_for the output); `build(GemmVariant)` makes a kernel, `wide` names the rung in it."""

    version: str
    build: Callable
    wide: bool
    precision: str = "fp32"
    takes_options = True

    @property
    def needs(self) -> str:
        return self.precision

    def kernel(self, tiles: Tiles, options: KernelOptions | None = None):
        flags = dataclasses.asdict(options or KernelOptions())
        return compiled(GemmVariant(tiles, self.wide, **flags), self.build)

    def plan(self, a, b, c, tiles, options: Options, stream) -> Launch:
        _refuse_tiles(self.version, tiles, Tiles)
        m, n = c.shape
        k_dim = options.inner_size(a)
        tiles = tiles or tiles_for(m, n)
        if not self.wide:  # rung 6 has no operand prefetch: the same tile shape without it
            tiles = dataclasses.replace(tiles, prefetch=False)
        kernel = self.kernel(tiles, options.kernel_options())
        grid = (*_grid(c, tiles.BM, tiles.BN), options.split)
        # the 128-bit global loads of rung 7 need rows of multiples of 4 floats, aligned
        vec_ok = k_dim % 4 == 0 and n % 4 == 0 and _aligned16(a) and _aligned16(b)
        sizes = (np.uint32(m), np.uint32(n), np.uint32(k_dim), np.uint32(vec_ok),
                 np.uint32(options.split))  # fmt: skip
        return Launch(kernel, grid, tiles.threads, _with_options(a, b, c, options, grid, sizes),
                      stream)  # fmt: skip


@dataclass(frozen=True)
class TensorRung:
    """Rungs 8 and 9: the plain product on the tensor cores in `precision`, on `TensorTiles` of
    one stage (default: tensor_tiles_for the output); `build(TensorVariant)` makes a kernel."""

    version: str
    precision: str
    build: Callable
    takes_options = False

    @property
    def needs(self) -> str:
        return self.precision

    def kernel(self, tiles: TensorTiles):
        return compiled(TensorVariant(tiles, self.precision, 1), self.build)

    def plan(self, a, b, c, tiles, options: Options, stream) -> Launch:
        _refuse_tiles(self.version, tiles, TensorTiles)
        tc = tiles or tensor_tiles_for(*c.shape, self.version)
        if tc.stages > 1:
            raise ValueError(f"version {self.version!r} takes tiles of one stage, not {tc}")
        args = _flat(a, b, c, a.shape[1])
        return Launch(self.kernel(tc), _grid(c, tc.BM, tc.BN), tc.threads, args, stream)


@dataclass(frozen=True)
class AsyncTensorRung:
    """Rungs 10 and 11: op(A) @ op(B) on the tensor cores in `precision` with the training
    step's options, on `TensorTiles` of two or more stages (default: tensor_tiles_for the
    output); `build(TensorVariant)` makes a kernel."""

    version: str
    precision: str
    build: Callable
    takes_options = True

    @property
    def needs(self) -> str:
        return self.precision

    def kernel(self, tiles: TensorTiles, vec: int = 4, options: KernelOptions | None = None):
        flags = dataclasses.asdict(options or KernelOptions())
        return compiled(TensorVariant(tiles, self.precision, vec, **flags), self.build)

    def plan(self, a, b, c, tiles, options: Options, stream) -> Launch:
        _refuse_tiles(self.version, tiles, TensorTiles)
        m, n = c.shape
        tc = tiles or tensor_tiles_for(m, n, self.version)
        if tc.stages < 2:
            raise ValueError(
                f"version {self.version!r} takes tiles of two or more stages, not {tc}"
            )
        k_dim = options.inner_size(a)
        # 16-byte copies need every stored row a multiple of 4 floats and aligned operands
        rows_ok = (m if options.trans_a else k_dim) % 4 == 0 and (
            k_dim if options.trans_b else n
        ) % 4 == 0
        vec = 4 if rows_ok and _aligned16(a) and _aligned16(b) else 1
        kernel = self.kernel(tc, vec, options.kernel_options())
        grid = (*_grid(c, tc.BM, tc.BN), options.split)
        sizes = (np.uint32(m), np.uint32(n), np.uint32(k_dim), np.uint32(options.split))
        args = _with_options(a, b, c, options, grid, sizes)
        return Launch(kernel, grid, tc.threads, args, stream)


@dataclass(frozen=True)
class WgmmaRung:
    """Rungs 12-14: the plain product on Hopper's wgmma in `precision`, on WgmmaTiles of
    `warpgroups` warpgroups (default: wgmma_tiles_for the output and this version);
    `build(WgmmaTiles)` makes a kernel of (a_words, bt_words, c, m, n, kw). `plan` stages A and
    B^T into buffers it allocates (so plan once per launch site), then multiplies them."""

    version: str
    precision: str
    warpgroups: int
    build: Callable
    takes_options = False
    needs = "wgmma"  # Hopper's instructions (sm_90a), which imply its precision's
    tma = False  # its tiles arrive by cp.async (rungs 12-14), not by TMA (TmaRung)

    def kernel(self, tiles: WgmmaTiles):
        tiles.check()
        if (tiles.precision, tiles.warpgroups, tiles.tma) != (
            self.precision,
            self.warpgroups,
            self.tma,
        ):
            feed = "fed by TMA" if self.tma else "fed by cp.async"
            raise ValueError(
                f"version {self.version!r} takes {self.precision} tiles of {self.warpgroups} "
                f"warpgroup(s) {feed}, not {tiles}"
            )
        return compiled(tiles, self.build)

    def operands(self, a_words, bt_words, tiles: WgmmaTiles) -> tuple:
        """The kernel's first two arguments: the staged words themselves, flat."""
        return a_words.reshape(a_words.size), bt_words.reshape(bt_words.size)

    def plan_staged(self, a_words, bt_words, c, tiles: WgmmaTiles, stream=0, before=()) -> Launch:
        """The launch of C (M, N) = A @ B from staged A (M, KW) and B^T (N, KW) words (after
        the launches `before`)."""
        (m, kw), (n, kw2) = a_words.shape, bt_words.shape
        if kw != kw2 or c.shape != (m, n):
            raise ValueError(
                f"staged shapes {a_words.shape}, {bt_words.shape} and C {c.shape} disagree"
            )
        grid = _grid(c, tiles.BM, tiles.BN)
        args = (*self.operands(a_words, bt_words, tiles), c.reshape(c.size),
                np.uint32(m), np.uint32(n), np.uint32(kw))  # fmt: skip
        kernel = self.kernel(tiles)
        return Launch(kernel, grid, tiles.threads, args, stream, tiles.shared_bytes, before)

    def plan(self, a, b, c, tiles, options: Options, stream) -> Launch:
        _refuse_tiles(self.version, tiles, WgmmaTiles)
        (m, k), n = a.shape, c.shape[1]
        tiles = tiles or wgmma_tiles_for(m, n, self.version)
        a_words, bt_words = staging.buffers(m, n, k, self.precision, stream)
        before = tuple(
            Launch(*staging.staging_launch(x, words, self.precision, transpose), stream)
            for x, words, transpose in ((a, a_words, False), (b, bt_words, True))
        )
        return self.plan_staged(a_words, bt_words, c, tiles, stream, before)


@dataclass(frozen=True)
class TmaRung(WgmmaRung):
    """Rungs 15-16: a wgmma rung whose tiles arrive by TMA (tma.py), issued by a producer
    warpgroup of its own; `build(WgmmaTiles)` makes a kernel of (map_a, map_b, c, m, n, kw)."""

    tma = True

    def operands(self, a_words, bt_words, tiles: WgmmaTiles) -> tuple:
        """The tensor maps of the staged words, boxes of BM and BN rows, made once per plan."""
        from phase4_cuda.tma import tensor_map

        return tensor_map(a_words, tiles.BM), tensor_map(bt_words, tiles.BN)
