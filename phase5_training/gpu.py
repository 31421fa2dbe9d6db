"""The training step on the GPU with the project's own kernels (numba.cuda, float32).

The whole data set is uploaded once. Each epoch uploads its permutation; then every step
gathers its mini-batch on the device, runs the forward pass with Phase 4's matmul (bias and ReLU
fused into its epilogue), the fused softmax + cross-entropy + gradient, the backward products
(Phase 4's matmul on transposed operands), the bias and ReLU gradients, and the SGD updates. Loss
and accuracy accumulate on the device and are read once an epoch: no step waits for the host.

This first version launches about 25 kernels a step, so at MNIST's sizes it is bound by numba's
launch overhead (about 19 microseconds each); fusing launches and capturing the step in a CUDA
graph are the next steps (issue #5).
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda

from phase4_cuda.device import require_gpu
from phase4_cuda.matmul import VERSIONS, launch, tiles_for
from phase5_training import gpu_kernels as k
from phase5_training.mlp import Params, TrainConfig

__all__ = ["GpuTrainer"]

THREADS = 256


def _blocks(n: int) -> int:
    return max(1, min(1024, math.ceil(n / THREADS)))


def _flat(a):
    return a.reshape(a.size)


class GpuTrainer:
    device = "gpu"

    def __init__(self, params: Params, config: TrainConfig) -> None:
        require_gpu()
        self.config = config
        self.widths = [params.W[0].shape[0]] + [w.shape[1] for w in params.W]
        self.W = [cuda.to_device(np.ascontiguousarray(w)) for w in params.W]
        self.b = [cuda.to_device(np.ascontiguousarray(b)) for b in params.b]
        self.vW = [cuda.to_device(np.ascontiguousarray(v)) for v in params.vW]
        self.vb = [cuda.to_device(np.ascontiguousarray(v)) for v in params.vb]
        self.gW = [cuda.device_array_like(w) for w in self.W]
        self.gb = [cuda.device_array_like(b) for b in self.b]
        self.WT = [cuda.device_array((w.shape[1], w.shape[0]), np.float32) for w in self.W]
        self.stats = cuda.to_device(np.zeros(2, np.float64))
        self.batch = 0
        self.x = self.y = None

    # -- host views ------------------------------------------------------------------------------
    @property
    def params(self) -> Params:
        """A host copy of the parameters and momentum buffers (for checkpoints)."""
        return Params(
            *[[a.copy_to_host() for a in group] for group in (self.W, self.b, self.vW, self.vb)]
        )

    def load(self, x: np.ndarray, y: np.ndarray) -> None:
        """Upload the training set once: x (n, n_0) float32, y (n,)."""
        self.x = cuda.to_device(np.ascontiguousarray(x, np.float32))
        self.y = cuda.to_device(np.ascontiguousarray(y, np.int32))

    # -- buffers -----------------------------------------------------------------------------------
    def _buffers(self, batch: int) -> None:
        if batch <= self.batch:
            return
        w = self.widths
        self.batch = batch
        self.xb = cuda.device_array((batch, w[0]), np.float32)
        self.yb = cuda.device_array(batch, np.int32)
        self.h = [None] + [
            cuda.device_array((batch, n), np.float32) for n in w[1:]
        ]  # layer outputs
        self.delta = [
            cuda.device_array((batch, n), np.float32) for n in w[1:]
        ]  # dLoss/d(layer l output)
        self.dh = [
            cuda.device_array((batch, n), np.float32) for n in w[1:-1]
        ]  # before ReLU's gradient
        self.hT = [cuda.device_array(n * batch, np.float32) for n in w[:-1]]  # flat: any batch size

    def _dense(self, x, l, out, activation):
        kernel, grid, block, args = VERSIONS["wide"](
            x,
            self.W[l],
            out,
            bias=self.b[l],
            tiles=tiles_for(x.shape[0], out.shape[1]),
            activation=activation,
        )
        kernel[grid, block](*args)

    # -- the step ----------------------------------------------------------------------------------
    def _forward(self, x, b: int):
        hs = [x]
        for l in range(len(self.W)):
            out = self.h[l + 1][:b]
            self._dense(hs[-1], l, out, "relu" if l < len(self.W) - 1 else None)
            hs.append(out)
        return hs

    def _step_device(self, xb, yb, b: int, lr: float) -> None:
        cfg = self.config
        hs = self._forward(xb, b)
        top = len(self.W) - 1
        k.softmax_xent[_blocks(b), THREADS](
            hs[-1], yb, np.float32(1.0 / b), self.delta[top][:b], self.stats
        )
        for l in reversed(range(len(self.W))):
            delta = self.delta[l][:b]
            n_in = self.widths[l]
            h_t = self.hT[l][: n_in * b].reshape(n_in, b)
            k.transpose[_blocks(b * n_in), THREADS](hs[l], h_t)
            launch("wide", h_t, delta, self.gW[l])  # dW = h^T delta: (n_in, b) @ (b, n_out)
            k.col_sums[_blocks(delta.shape[1]), THREADS](delta, self.gb[l])  # db
            if l:
                w = self.W[l]
                k.transpose[_blocks(w.size), THREADS](w, self.WT[l])
                dh = self.dh[l - 1][:b]
                launch("wide", delta, self.WT[l], dh)  # dh = delta W^T, before W changes
                k.relu_backward[_blocks(dh.size), THREADS](dh, hs[l], self.delta[l - 1][:b])
        momentum, nesterov = np.float32(cfg.momentum), cfg.nesterov
        for value, velocity, grad, decay in [
            (self.W[l], self.vW[l], self.gW[l], cfg.weight_decay) for l in range(len(self.W))
        ] + [(self.b[l], self.vb[l], self.gb[l], 0.0) for l in range(len(self.W))]:
            k.sgd_update[_blocks(value.size), THREADS](
                _flat(value),
                _flat(velocity),
                _flat(grad),
                np.float32(lr),
                momentum,
                np.float32(decay),
                nesterov,
            )

    def _read_stats(self) -> tuple[float, int]:
        loss_sum, correct = self.stats.copy_to_host()
        self.stats.copy_to_device(np.zeros(2, np.float64))
        return float(loss_sum), round(correct)

    def step(self, x: np.ndarray, y: np.ndarray, lr: float) -> tuple[float, int]:
        """One step on a host batch (tests, and the same interface as the CPU trainer)."""
        b = len(y)
        self._buffers(b)
        self.xb[:b].copy_to_device(np.ascontiguousarray(x, np.float32))
        self.yb[:b].copy_to_device(np.ascontiguousarray(y, np.int32))
        self._step_device(self.xb[:b], self.yb[:b], b, lr)
        loss_sum, correct = self._read_stats()
        return loss_sum / b, correct

    def run_epoch(
        self, order: np.ndarray, lrs: list[float], batch_size: int, bar=None
    ) -> tuple[float, int]:
        """All steps of an epoch over the resident data in the order `order`; returns the summed
        loss and the number correct, read from the device once at the end."""
        n = len(order)
        self._buffers(min(batch_size, n))
        d_order = cuda.to_device(order.astype(np.int64))
        for s, start in enumerate(range(0, n, batch_size)):
            b = min(batch_size, n - start)
            xb, yb = self.xb[:b], self.yb[:b]
            k.gather_batch[_blocks(b * self.widths[0]), THREADS](
                self.x, self.y, d_order, start, xb, yb
            )
            self._step_device(xb, yb, b, lrs[s])
            if bar is not None:
                bar.update()
        return self._read_stats()

    def logits(self, x: np.ndarray, batch: int = 4096) -> np.ndarray:
        out = []
        for start in range(0, len(x), batch):
            chunk = np.ascontiguousarray(x[start : start + batch], np.float32)
            self._buffers(len(chunk))
            self.xb[: len(chunk)].copy_to_device(chunk)
            out.append(self._forward(self.xb[: len(chunk)], len(chunk))[-1].copy_to_host())
        return np.concatenate(out)
