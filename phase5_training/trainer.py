"""The contract every trainer keeps, so that the training loop (train.py) never asks which one
it holds: the CPU trainer on Phase 3's C library (cpu.py) and the GPU trainer on Phase 4's
kernels (gpu.py) both implement it.

    trainer.load(x, y)                    the training set, once (the GPU keeps it on the device)
    trainer.run_epoch(order, lrs, bar, meanwhile)
                                          one epoch: rows in `order`, step s at learning rate lrs[s];
                                          meanwhile() is host work to do while it runs
    trainer.step(x, y, lr)                one step on a batch given here (tests; the CPU's epoch)
    trainer.logits(x)                     the forward pass, for evaluation
    trainer.params                        a host copy of weights and momentum (checkpoints)
    trainer.compile_seconds, capture_seconds    time spent before training proper (0 on the CPU)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from phase2_numpy.network import Params
from shared.progress import Progress

__all__ = ["Trainer"]


class Trainer(Protocol):
    device: str  # "cpu" or "gpu"
    #: seconds spent compiling kernels (or loading them from the cache) and capturing graphs,
    #: which the loop reports apart from training time
    compile_seconds: float
    capture_seconds: float

    @property
    def params(self) -> Params: ...

    def load(self, x: np.ndarray, y: np.ndarray) -> None:
        """The training set: x (n, n_0) float32, y (n,) labels."""

    def run_epoch(
        self,
        order: np.ndarray,
        lrs: list[float],
        bar: Progress | None = None,
        meanwhile: Callable[[], None] | None = None,
    ) -> tuple[float, int]:
        """One epoch over the loaded rows in `order`, in batches of the configuration's size, step
        s at learning rate lrs[s]; returns the summed loss and the number classified right (both
        before each step's update). A non-finite loss ends the epoch early and is returned.

        `meanwhile`, if given, is called once, while the epoch runs where the trainer can overlap
        it (the GPU trainers: once every step is queued, before waiting for the result), else
        after it (the CPU trainer): the loop prepares the next epoch's inputs there."""

    def step(self, x: np.ndarray, y: np.ndarray, lr: float) -> tuple[float, int]:
        """One SGD step on the batch x (b, n_0), y (b,): its mean loss and how many were right."""

    def logits(self, x: np.ndarray) -> np.ndarray:
        """x (n, n_0) -> logits (n, classes)."""
