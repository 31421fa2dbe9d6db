"""The training step on the GPU with the project's own kernels (numba.cuda, float32).

The whole data set is uploaded once. Each epoch uploads its permutation; then every step
gathers its mini-batch on the device, runs the forward pass with Phase 4's matmul (bias and ReLU
fused into its epilogue), the fused softmax + cross-entropy + gradient, the backward products
(Phase 4's matmul on transposed operands), the bias and ReLU gradients, and the SGD updates. Loss
and accuracy accumulate on the device and are read once an epoch: no step waits for the host.

A step replays a prepared plan of about 25 launches (see `_plan`), so at MNIST's sizes it is
bound by numba's launch overhead (about 19 microseconds each); fusing launches and capturing the
step in a CUDA graph are the next steps (issue #5).
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda

from phase4_cuda.device import require_gpu
from phase4_cuda.matmul import VERSIONS, tiles_for
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
        self._plans: dict[int, dict] = {}
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

    # -- launch plans ------------------------------------------------------------------------------
    def _plan(self, b: int) -> dict:
        """Everything a step of batch size b launches, built once: buffers, views, configured
        kernels and their arguments. Building these (slicing device arrays, choosing tiles)
        costs far more Python time than the launches themselves, so a step only replays them."""
        if b in self._plans:
            return self._plans[b]
        w, layers = self.widths, len(self.W)
        xb = cuda.device_array((b, w[0]), np.float32)
        yb = cuda.device_array(b, np.int32)
        hs = [xb] + [
            cuda.device_array((b, n), np.float32) for n in w[1:]
        ]  # each layer's input/output
        deltas = [cuda.device_array((b, n), np.float32) for n in w[1:]]  # dLoss/d(layer l output)
        forward, backward = [], []
        for l in range(layers):
            kernel, grid, block, args = VERSIONS["wide"](
                hs[l], self.W[l], hs[l + 1], bias=self.b[l], tiles=tiles_for(b, w[l + 1]),
                activation="relu" if l < layers - 1 else None,
            )  # fmt: skip
            forward.append((kernel[grid, block], args))
        backward.append(
            (
                k.softmax_xent[_blocks(b), THREADS],
                (hs[-1], yb, np.float32(1.0 / b), deltas[-1], self.stats),
            )
        )
        for l in reversed(range(layers)):
            h_t = cuda.device_array((w[l], b), np.float32)
            backward.append((k.transpose[_blocks(b * w[l]), THREADS], (hs[l], h_t)))
            kernel, grid, block, args = VERSIONS["wide"](
                h_t, deltas[l], self.gW[l]
            )  # dW = h^T delta
            backward.append((kernel[grid, block], args))
            backward.append((k.col_sums[_blocks(w[l + 1]), THREADS], (deltas[l], self.gb[l])))  # db
            if l:  # dh = delta W^T (before W changes), then ReLU's gradient
                backward.append(
                    (k.transpose[_blocks(self.W[l].size), THREADS], (self.W[l], self.WT[l]))
                )
                dh = cuda.device_array((b, w[l]), np.float32)
                kernel, grid, block, args = VERSIONS["wide"](deltas[l], self.WT[l], dh)
                backward.append((kernel[grid, block], args))
                backward.append(
                    (k.relu_backward[_blocks(dh.size), THREADS], (dh, hs[l], deltas[l - 1]))
                )
        cfg = self.config
        updates = [
            (
                k.sgd_update[_blocks(value.size), THREADS],
                (_flat(value), _flat(velocity), _flat(grad)),
                np.float32(decay),
            )
            for group, vgroup, ggroup, decay in (
                (self.W, self.vW, self.gW, cfg.weight_decay),
                (self.b, self.vb, self.gb, 0.0),
            )
            for value, velocity, grad in zip(group, vgroup, ggroup, strict=True)
        ]
        gather = k.gather_batch[_blocks(b * w[0]), THREADS]
        self._plans[b] = plan = {
            "xb": xb,
            "yb": yb,
            "out": hs[-1],
            "forward": forward,
            "backward": backward,
            "updates": updates,
            "gather": gather,
        }
        return plan

    def _run(self, plan: dict, lr: float) -> None:
        for fn, args in plan["forward"]:
            fn(*args)
        for fn, args in plan["backward"]:
            fn(*args)
        lr32, momentum, nesterov = (
            np.float32(lr),
            np.float32(self.config.momentum),
            self.config.nesterov,
        )
        for fn, (value, velocity, grad), decay in plan["updates"]:
            fn(value, velocity, grad, lr32, momentum, decay, nesterov)

    def _read_stats(self) -> tuple[float, int]:
        loss_sum, correct = self.stats.copy_to_host()
        self.stats.copy_to_device(np.zeros(2, np.float64))
        return float(loss_sum), round(correct)

    def step(self, x: np.ndarray, y: np.ndarray, lr: float) -> tuple[float, int]:
        """One step on a host batch (tests, and the same interface as the CPU trainer)."""
        plan = self._plan(len(y))
        plan["xb"].copy_to_device(np.ascontiguousarray(x, np.float32))
        plan["yb"].copy_to_device(np.ascontiguousarray(y, np.int32))
        self._run(plan, lr)
        loss_sum, correct = self._read_stats()
        return loss_sum / len(y), correct

    def run_epoch(
        self, order: np.ndarray, lrs: list[float], batch_size: int, bar=None
    ) -> tuple[float, int]:
        """All steps of an epoch over the resident data in the order `order`; returns the summed
        loss and the number correct, read from the device once at the end."""
        n = len(order)
        d_order = cuda.to_device(order.astype(np.int64))
        for s, start in enumerate(range(0, n, batch_size)):
            plan = self._plan(min(batch_size, n - start))
            plan["gather"](self.x, self.y, d_order, start, plan["xb"], plan["yb"])
            self._run(plan, lrs[s])
            if bar is not None:
                bar.update()
        return self._read_stats()

    def logits(self, x: np.ndarray, batch: int = 4096) -> np.ndarray:
        out = []
        for start in range(0, len(x), batch):
            chunk = np.ascontiguousarray(x[start : start + batch], np.float32)
            plan = self._plan(len(chunk))
            plan["xb"].copy_to_device(chunk)
            for fn, args in plan["forward"]:
                fn(*args)
            out.append(plan["out"].copy_to_host())
        return np.concatenate(out)
