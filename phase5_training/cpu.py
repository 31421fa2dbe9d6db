"""The training step on the CPU, on Phase 3's C library in float32: the path used where there is
no GPU, and the independent check of the GPU trainer.

Products go through the packed AVX2/OpenMP product (`phase3_c.matmul`); bias, ReLU, its gradient,
softmax, the bias gradient and the SGD update through Phase 3's row kernels. NumPy does only the
glue that costs no arithmetic to speak of: the loss from the logits and the one-hot subtraction.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

import phase3_c
from phase2_numpy.network import Params, cross_entropy
from phase2_numpy.train import TrainConfig
from shared.progress import Progress

__all__ = ["CpuTrainer"]


class CpuTrainer:
    """Holds the parameters (float32) and runs forward, backward and update steps (the Trainer
    contract of trainer.py): one call into C per operation, the loss checked every step."""

    device = "cpu"
    compile_seconds = 0.0  # nothing is compiled at run time: the C library was built at install
    capture_seconds = 0.0

    def __init__(self, params: Params, config: TrainConfig) -> None:
        self.params = params
        self.config = config
        self.x = self.y = None

    def load(self, x: np.ndarray, y: np.ndarray) -> None:
        """The training set, kept as it is (x float32 (n, n_0), y (n,))."""
        self.x, self.y = x, y

    def run_epoch(
        self,
        order: np.ndarray,
        lrs: list[float],
        bar: Progress | None = None,
        meanwhile: Callable[[], None] | None = None,
    ) -> tuple[float, int]:
        """All steps of an epoch, one host call each, then `meanwhile` (the host is what runs
        the steps, so nothing can overlap them); see trainer.Trainer.run_epoch."""
        loss_sum, correct = self._steps(order, lrs, bar)
        if meanwhile is not None:
            meanwhile()
        return loss_sum, correct

    def _steps(
        self, order: np.ndarray, lrs: list[float], bar: Progress | None
    ) -> tuple[float, int]:
        if self.x is None:
            raise RuntimeError("load() the training set before run_epoch()")
        size = self.config.batch_size
        loss_sum, correct, seen = 0.0, 0, 0
        for s, start in enumerate(range(0, len(order), size)):
            idx = order[start : start + size]
            loss, right = self.step(self.x[idx], self.y[idx], lrs[s])
            loss_sum, correct, seen = loss_sum + loss * len(idx), correct + right, seen + len(idx)
            if not math.isfinite(loss):
                return loss, correct  # the loop stops the run
            if bar is not None:
                bar.update()
                if s % 20 == 0 or seen == len(order):
                    bar.set_postfix(loss=loss_sum / seen, acc=correct / seen, lr=lrs[s])
        return loss_sum, correct

    def logits(self, x: np.ndarray, batch: int = 2048) -> np.ndarray:
        """Forward pass in chunks: x (n, n_0) float32 -> logits (n, classes)."""
        out = []
        for start in range(0, len(x), batch):
            h = x[start : start + batch]
            for l, (w, b) in enumerate(zip(self.params.W, self.params.b, strict=True)):
                h = phase3_c.bias_add(phase3_c.matmul(h, w), b)
                if l < len(self.params.W) - 1:
                    h = phase3_c.relu(h)
            out.append(h)
        return np.concatenate(out)

    def step(self, x: np.ndarray, y: np.ndarray, lr: float) -> tuple[float, int]:
        """One SGD step on the batch x (batch, n_0) float32, y (batch,); returns the batch's mean
        loss and how many it classified correctly, both before the update."""
        p, cfg = self.params, self.config
        hs = [x]  # the input of each layer
        for l in range(len(p.W) - 1):
            hs.append(phase3_c.relu(phase3_c.bias_add(phase3_c.matmul(hs[-1], p.W[l]), p.b[l])))
        logits = phase3_c.bias_add(phase3_c.matmul(hs[-1], p.W[-1]), p.b[-1])
        loss = cross_entropy(logits, y)
        correct = int((logits.argmax(axis=1) == y).sum())
        batch = len(y)
        delta = phase3_c.softmax(logits)  # dLoss/dlogits = (softmax - onehot) / batch
        delta[np.arange(batch), y] -= 1.0
        delta *= np.float32(1.0 / batch)
        for l in reversed(range(len(p.W))):
            grad_w = phase3_c.matmul(hs[l].T, delta)  # (n_l, batch) @ (batch, n_{l+1})
            grad_b = phase3_c.sum(delta, 0)
            if l:  # the gradient for the layer below, before W changes
                delta = phase3_c.relu_backward(phase3_c.matmul(delta, p.W[l].T), hs[l])
            self._update(p.W[l], p.vW[l], grad_w, lr, cfg.weight_decay)
            self._update(p.b[l], p.vb[l], grad_b, lr, 0.0)
        return loss, correct

    def _update(
        self, value: np.ndarray, velocity: np.ndarray, grad: np.ndarray, lr: float, decay: float
    ) -> None:
        # In place and in one pass over the parameters (Phase 3's sgd_update), the rule of
        # phase2_numpy.train.sgd_update: g = grad + decay w; v = mu v + g; w -= lr (g + mu v)
        cfg = self.config
        phase3_c.sgd_update(value, velocity, grad, lr, cfg.momentum, decay, cfg.nesterov)
