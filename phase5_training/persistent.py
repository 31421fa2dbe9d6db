"""The GPU step as one persistent kernel: the Trainer contract of trainer.py with every step of an
epoch inside a single cooperative launch (numba.cuda, float32). The kernel, its five stages
between grid-wide barriers and why they are fused as they are, is persistent_kernel.py; the tiled
product its stages share is persistent_tiles.py. This file allocates what the kernel works in,
picks its grid and launches it.

Measured on an H200 it is 2.1x slower than gpu.py's graph (232 against 108 us a step; the
README's "One kernel for the whole epoch" has the breakdown by stage and why), so the graph is
the default and this is `--step persistent`: the lesson of what one kernel for everything costs,
and the starting point for the next attempt. It is written for networks of two hidden layers in
FP32 on the CUDA cores, and refuses others.
"""

from __future__ import annotations

import time

import numpy as np
from numba import cuda

from phase2_numpy.network import Params
from phase2_numpy.train import TrainConfig
from phase4_cuda.device import simulated
from phase5_training.gpu import GpuTrainer
from phase5_training.persistent_kernel import (
    MAX_REGISTERS,
    EpochData,
    Layers,
    Scratch,
    Stage,
    Update,
    steps_kernel,
)
from phase5_training.persistent_tiles import THREADS

__all__ = ["SPLITS", "PersistentTrainer"]

#: slices of K for the three split products (forward 1, forward 2, delta 1): each item's chain
#: of loads is ceil(K / TILE / slices) steps long
SPLITS = (8, 4, 4)


class PersistentTrainer(GpuTrainer):
    """The Trainer contract of trainer.py with each epoch one launch of the persistent kernel (or
    a few: `steps_per_launch`). Parameters, evaluation and checkpoints are GpuTrainer's: the same
    flat buffers, the same forward pass for `logits`."""

    def __init__(
        self,
        params: Params,
        config: TrainConfig,
        precision: str = "fp32",
        splits: tuple[int, int, int] = SPLITS,
        blocks: int | None = None,
        steps_per_launch: int = 0,
        max_registers: int | None = MAX_REGISTERS,
    ) -> None:
        """`splits`: slices of K for forward 1, forward 2 and delta 1. `blocks`: the grid (default:
        as many as can be resident at once). `steps_per_launch`: 0 for a whole epoch in one
        launch, else at most that many steps a launch (the progress bar then moves).
        `max_registers`: see steps_kernel."""
        if precision != "fp32":
            raise ValueError(
                f"the persistent step computes in fp32 on the CUDA cores; for {precision} use "
                "the graph step (--step graph)"
            )
        if len(params.W) != 3:
            raise ValueError(
                "the persistent step is written for networks of two hidden layers (such as "
                f"784-512-256-10); got {len(params.W) - 1}: use the graph step (--step graph)"
            )
        if min(splits) < 1:
            raise ValueError(f"splits of K must be >= 1, got {splits}")
        super().__init__(params, config, use_graphs=False, precision="fp32")
        self.steps_per_launch = steps_per_launch
        self._scratch = Scratch.allocate(self.widths, config.batch_size, splits, self.stream)
        velocities = self._views(self.V)
        self._layers = Layers(
            W=tuple(w.reshape(1, *w.shape) for w in self.W), b=tuple(self.biases),
            V=tuple(v.reshape(1, *v.shape) for v in velocities[:3]), vb=tuple(velocities[3:]),
        )  # fmt: skip
        self._requested_blocks = blocks
        self.kernel = steps_kernel(max_registers)
        self.stages = Stage.ALL  # tune_step leaves stages out to time the others
        self.blocks = 0  # set at the first launch, once the kernel is compiled

    def _kernel_args(self, data: EpochData, s_first: int, s_last: int) -> tuple:
        """The kernel's arguments, steps s_first .. s_last - 1 over `data`, in its order."""
        cfg = self.config
        update = Update(np.float32(cfg.momentum), np.float32(cfg.weight_decay), cfg.nesterov)
        return (
            data, s_first, s_last, cfg.batch_size, self._layers, self._scratch, update,
            self.stats, int(self.stages),  # a plain number: the kernel was compiled for one
        )  # fmt: skip

    def _grid(self, data: EpochData) -> int:
        """The grid: every block resident at once, as a cooperative launch requires. The first
        call compiles the kernel with an empty launch (numba cannot cache it: steps_kernel)."""
        if self.blocks:
            return self.blocks
        t0 = time.perf_counter()
        self.kernel[1, THREADS, self.stream](*self._kernel_args(data, 0, 0))  # no steps
        self.stream.synchronize()
        self.compile_seconds += time.perf_counter() - t0
        if simulated():
            most = 1  # the simulator runs cooperative grids of one block
        else:
            kernel = next(iter(self.kernel.overloads.values()))
            most = kernel.max_cooperative_grid_blocks(THREADS)
        want = self._requested_blocks or most
        if not 1 <= want <= most:
            raise ValueError(
                f"a cooperative grid of {want} blocks cannot be resident at once: at most {most}"
            )
        self.blocks = want
        return want

    def _run(self, data: EpochData, steps: int, bar=None) -> None:
        blocks = self._grid(data)
        chunk = self.steps_per_launch or steps
        for first in range(0, steps, chunk):
            last = min(steps, first + chunk)
            self.kernel[blocks, THREADS, self.stream](*self._kernel_args(data, first, last))
            if bar is not None:
                bar.update(last - first)

    def step(self, x: np.ndarray, y: np.ndarray, lr: float) -> tuple[float, int]:
        """One step on a host batch: the batch is uploaded as a one-step data set."""
        rows = len(y)
        if rows > self.config.batch_size:
            raise ValueError(
                f"a batch of {rows} rows is larger than the batch size {self.config.batch_size}"
            )
        s = self.stream
        xs = cuda.to_device(np.ascontiguousarray(x, np.float32), stream=s)
        ys = cuda.to_device(np.ascontiguousarray(y, np.int32), stream=s)
        order = cuda.to_device(np.arange(rows, dtype=np.int32), stream=s)
        lrs = cuda.to_device(np.array([lr], np.float32), stream=s)
        self._run(EpochData(xs, ys, order, lrs), 1)
        loss_sum, correct = self._read_stats()
        return loss_sum / rows, correct

    def run_epoch(
        self, order: np.ndarray, lrs: list[float], bar=None, meanwhile=None
    ) -> tuple[float, int]:
        """All steps of an epoch in one launch (or `steps_per_launch` at a time), `meanwhile()`
        on the host after the last launch (see trainer.py)."""
        steps = self._upload_epoch(order, lrs)
        self._run(EpochData(self.x, self.y, self.order, self.lrs), steps, bar)
        if meanwhile is not None:
            meanwhile()
        loss_sum, correct = self._read_stats()
        if bar is not None:
            bar.set_postfix(loss=loss_sum / len(order), acc=correct / len(order))
        return loss_sum, correct
