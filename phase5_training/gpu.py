"""The training step on the GPU with the project's own kernels (numba.cuda, float32).

The whole training set is uploaded once, and each epoch uploads its permutation and learning
rates. A step is 3L - 1 kernels for L >= 2 layers (8 for 784-512-256-10; 3 for a single layer),
every one of them reading its inputs from the device:

    gather     an epoch's first mini-batch, rows order[0 : B] of the resident data (once an epoch)
    forward    Phase 4's matmul per hidden layer, bias + ReLU fused into its epilogue
    output     the output layer, softmax, cross-entropy, its gradient and the delta of the layer
               below in one kernel (one block per row); loss and accuracy are summed on the
               device and read once an epoch; it also moves pos on to the next step
    backward   per layer, Phase 4's matmul on transposed operands: dW = h.T @ delta, whose first
               block row also sums the bias gradient, and (below the output layer's) delta' =
               (delta @ W.T) * (h > 0)
    update     SGD with (Nesterov) momentum and weight decay, one kernel for every parameter
               (they live in one flat buffer), the learning rate read from lrs[pos - 1] (the
               output layer has moved pos on); it also gathers the next step's mini-batch, rows
               order[pos * B : (pos + 1) * B]

The products of a 128-row batch are too small to give the H100's 132 multiprocessors a block
each, so they also split K across blocks where that gives more blocks (split-K, see Phase 4's
gemm_kernel); gpu_products.py chooses each product's tiles and slices.

Because nothing in a step changes between steps but `pos`, which lives on the device, the step
is captured once into a CUDA graph, STEPS_PER_GRAPH steps of it one after another (and graphs of
fewer steps for the rest of an epoch, whose last batch is smaller), and an epoch is those graphs
replayed (gpu_graphs.py). A graph launch costs the host a few microseconds, against about 19
per numba kernel launch, and the GPU runs the kernels back to back.

Under numba's CUDA simulator (no graphs there) the same launches run one by one; that path is
also what the graph is checked against on a real GPU.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from numba import cuda

from phase2_numpy.network import Params
from phase2_numpy.train import TrainConfig
from phase4_cuda.device import require_gpu, simulated
from phase4_cuda.matmul import PRECISIONS, Launch, plan, require_precision
from phase5_training import gpu_kernels
from phase5_training.gpu_graphs import StepGraph, StreamWait, graph_runs
from phase5_training.gpu_products import (
    TENSOR_MAX_SPLIT,
    TENSOR_MIN_K_TILES,
    TENSOR_TILES,
    Product,
    split_for_step,
    tiles_for_step,
)

__all__ = ["GpuTrainer", "StepPlan"]

THREADS = 256
#: the update's grid, in blocks per multiprocessor (a grid-stride loop over ~535,000 parameters
#: for the main job): measured alone on the H200, 4 took 4.6 us, against 5.3 with 2 and 5.8 with 8
UPDATE_BLOCKS_PER_SM = 4
#: consecutive steps of one batch size captured into one CUDA graph: each graph launch costs the
#: GPU a gap of a few microseconds that the kernels inside one graph do not pay (measured on the
#: H200: 38.7 us a step with 50 steps in a graph, against 42-43 with one)
STEPS_PER_GRAPH = 16
ALIGN = 32  # each parameter starts on a 128-byte boundary of the flat buffers


def _blocks(n: int, cap: int = 1024) -> int:
    """Blocks of THREADS for a grid-stride loop over n elements, at most `cap`; one in numba's
    simulator, where every CUDA thread is a Python thread (a 392-block gather took 3 minutes)."""
    if simulated():
        return 1
    return max(1, min(cap, math.ceil(n / THREADS)))


def _multiprocessors() -> int:
    if simulated():
        return 1
    return cuda.get_current_device().MULTIPROCESSOR_COUNT


@dataclass(frozen=True)
class StepPlan:
    """Everything a step of one batch size launches, planned once (GpuTrainer.step_plan)."""

    batch: int
    xb: object  # (batch, n_0) the batch's inputs
    yb: object  # (batch,) its labels
    out: object  # (batch, classes) the logits `forward` writes
    products: list[Product]  # the training step's matrix products, in launch order
    forward: list[Launch]  # evaluation: every layer, the last writing logits
    #: one step on xb, yb: forward, fused output layer, backward (with the StreamWaits that
    #: fork its weight gradients off the main stream and join them back), update
    train: list
    #: the batch of step pos[0] from the resident data into xb, yb (None before load): an
    #: epoch's first; the update of each step gathers the next one
    gather: Launch | None


class GpuTrainer:
    """The Trainer contract of trainer.py on the GPU: the data resident on the device, each step
    a CUDA graph replayed."""

    device = "gpu"

    def __init__(
        self,
        params: Params,
        config: TrainConfig,
        use_graphs: bool | None = None,
        precision: str = "fp32",
        steps_per_graph: int = STEPS_PER_GRAPH,
    ) -> None:
        """`use_graphs`: replay steps from CUDA graphs (default: on a real GPU), up to
        `steps_per_graph` of them in one graph. `precision`:
        what the step's matrix products compute in, 'fp32' (the default: step for step the CPU
        trainer's) or 'tf32' / 'bf16' on the tensor cores (Phase 4's rungs 10 and 11); weights,
        momentum, the loss and every other kernel stay float32."""
        require_gpu()
        require_precision(precision)
        self.precision = precision
        self.config = config
        self.use_graphs = (not simulated()) if use_graphs is None else use_graphs
        self.steps_per_graph = steps_per_graph
        self.widths = [params.W[0].shape[0]] + [w.shape[1] for w in params.W]
        if self.widths[-1] > gpu_kernels.MAX_CLASSES:
            raise ValueError(
                f"the GPU trainer's output layer handles up to {gpu_kernels.MAX_CLASSES} classes, "
                f"got {self.widths[-1]}"
            )
        self.sms = _multiprocessors()
        self.stream = cuda.stream()
        # a stream for each weight gradient that can run beside the chain of deltas
        self._branches = [cuda.stream() for _ in params.W[1:]]
        # Every parameter (weights first, then biases) in one flat buffer, each at an aligned
        # offset; velocities and gradients share the layout, so one kernel updates them all.
        shapes = [w.shape for w in params.W] + [bias.shape for bias in params.b]
        self._offsets, total = [], 0
        for shape in shapes:
            self._offsets.append(total)
            total += -(-math.prod(shape) // ALIGN) * ALIGN
        self.n_decay = self._offsets[len(params.W)]  # the biases start here
        self._shapes, self._total = shapes, total
        self.P = cuda.to_device(self._pack(params.W + params.b), stream=self.stream)
        self.V = cuda.to_device(self._pack(params.vW + params.vb), stream=self.stream)
        self.G = cuda.device_array(total, np.float32, stream=self.stream)
        self.G.copy_to_device(np.zeros(total, np.float32), stream=self.stream)  # padding stays 0
        layers = len(params.W)
        P, G = self._views(self.P), self._views(self.G)
        # views of the flat buffers: each layer's weights and biases, and their gradients
        self.W, self.biases = P[:layers], P[layers:]
        self.gW, self.gb = G[:layers], G[layers:]
        self.stats = cuda.to_device(np.zeros(2, np.float64), stream=self.stream)
        self.pos = cuda.to_device(np.zeros(1, np.int32), stream=self.stream)
        self.lrs = cuda.to_device(np.zeros(1, np.float32), stream=self.stream)
        # A training batch's inputs and labels: every batch size up to the configured one uses
        # the first rows of these, so that a step's update can gather the next step's batch
        # whatever its size (an epoch's last batch is smaller).
        self.xb = cuda.device_array(
            (config.batch_size, self.widths[0]), np.float32, stream=self.stream
        )
        self.yb = cuda.device_array(config.batch_size, np.int32, stream=self.stream)
        self.x = self.y = self.order = None
        self._plans: dict[int, StepPlan] = {}
        self._graphs: dict[tuple[int, int], StepGraph] = {}  # (batch size, steps)
        self.compile_seconds = 0.0  # first launches (numba compiles or loads from its cache)
        self.capture_seconds = 0.0  # planning the steps and capturing their CUDA graphs

    # -- the flat parameter buffers -------------------------------------------------------------
    def _pack(self, arrays: list[np.ndarray]) -> np.ndarray:
        flat = np.zeros(self._total, np.float32)
        for off, a in zip(self._offsets, arrays, strict=True):
            flat[off : off + a.size] = a.ravel()
        return flat

    def _views(self, flat) -> list:
        return [
            flat[off : off + math.prod(shape)].reshape(shape)
            for off, shape in zip(self._offsets, self._shapes, strict=True)
        ]

    @property
    def params(self) -> Params:
        """A host copy of the parameters and momentum buffers (for checkpoints)."""
        p, v = self.P.copy_to_host(stream=self.stream), self.V.copy_to_host(stream=self.stream)
        self.stream.synchronize()
        layers = len(self.W)
        pv, vv = [a.copy() for a in self._views(p)], [a.copy() for a in self._views(v)]
        return Params(pv[:layers], pv[layers:], vv[:layers], vv[layers:])

    def load(self, x: np.ndarray, y: np.ndarray) -> None:
        """Upload the training set once: x (n, n_0) float32, y (n,). Room for each epoch's
        permutation and learning rates is allocated here too, so that captured graphs, which
        hold device addresses, stay valid for the whole run."""
        s = self.stream
        self.x = cuda.to_device(np.ascontiguousarray(x, np.float32), stream=s)
        self.y = cuda.to_device(np.ascontiguousarray(y, np.int32), stream=s)
        self.order = cuda.device_array(len(y), np.int32, stream=s)
        self.lrs = cuda.device_array(
            math.ceil(len(y) / self.config.batch_size), np.float32, stream=s
        )
        self._plans.clear()
        self._graphs.clear()

    # -- launch plans ------------------------------------------------------------------------------
    def step_plan(self, batch: int) -> StepPlan:
        """Every launch of a step of `batch` rows, built once: buffers, views, configured kernels
        and their arguments. Building these (slicing device arrays, choosing tiles) costs far more
        Python time than the launches themselves, so a step only replays them."""
        if batch not in self._plans:
            self._plans[batch] = self._plan_step(batch)
        return self._plans[batch]

    def _plan_step(self, batch: int) -> StepPlan:
        hs, yb, deltas = self._step_buffers(batch)
        forward = self._forward(hs)
        output = self._output_layer(hs, yb, deltas, batch)
        backward, backward_launches = self._backward(hs, deltas, batch)
        data = self._gather_source()
        # training runs the hidden layers' products, then the output layer fused with the loss
        # and the delta of the layer below it (evaluation uses `forward`, whose last product
        # writes the logits), the backward pass, and the update
        train = [*(p.launch for p in forward[:-1]), output, *backward_launches,
                 self._update(data)]  # fmt: skip
        gather = self._gather(data) if self.x is not None else None
        return StepPlan(batch, hs[0], yb, hs[-1], [*forward[:-1], *backward],
                        [p.launch for p in forward], train, gather)  # fmt: skip

    def _step_buffers(self, batch: int) -> tuple[list, object, list]:
        """A step's activations and deltas: hs[l] (batch, n_l) is layer l's input (hs[0] the
        batch's inputs, hs[-1] the logits), yb (batch,) the labels, deltas[l] (batch, n_l) the
        loss's gradient at layer l's output (deltas[0] None: nothing needs the input's)."""
        w, s = self.widths, self.stream
        hs = [cuda.device_array((batch, n), np.float32, stream=s) for n in w[1:]]  # layer outputs
        if batch <= self.config.batch_size:  # a training batch: the shared buffers
            hs.insert(0, self.xb[:batch])
            yb = self.yb[:batch]
        else:  # evaluation's larger chunks
            hs.insert(0, cuda.device_array((batch, w[0]), np.float32, stream=s))
            yb = cuda.device_array(batch, np.int32, stream=s)
        deltas = [None] + [cuda.device_array((batch, n), np.float32, stream=s) for n in w[1:]]
        return hs, yb, deltas

    def _product(self, name: str, a, b, c, k: int, stream=None, **options) -> Product:
        """c = a @ b (with Phase 4's epilogue `options`) planned on `stream` (default: the
        trainer's), with the tiles and split-K this step's shapes call for in its precision."""
        stream = self.stream if stream is None else stream
        if self.precision == "fp32":
            version = "wide"
            tiles = tiles_for_step(*c.shape, self.sms)
            split = split_for_step(*c.shape, k, tiles, self.sms)
        else:  # the tensor-core rung, split-K up to TENSOR_MAX_SPLIT except with col_sums
            version = PRECISIONS[self.precision][0]
            tiles = tiles_for_step(*c.shape, self.sms, TENSOR_TILES)
            split = split_for_step(
                *c.shape, k, tiles, self.sms, TENSOR_MAX_SPLIT, TENSOR_MIN_K_TILES
            )
            if options.get("col_sums") is not None:
                split = 1
        launch = plan(version, a, b, c, tiles=tiles, split=split, stream=stream, **options)
        return Product(name, a, b, c, k, options, tiles, split, launch, version)

    def _forward(self, hs: list) -> list[Product]:
        """Every layer's product, bias and (below the output layer) ReLU fused into it."""
        layers = len(self.W)
        return [
            self._product(f"forward {l + 1}", hs[l], self.W[l], hs[l + 1], self.widths[l],
                          bias=self.biases[l], activation="relu" if l < layers - 1 else None)
            for l in range(layers)
        ]  # fmt: skip

    def _output_layer(self, hs: list, yb, deltas: list, batch: int) -> Launch:
        """The output layer fused with softmax, the loss, its gradient and the delta below (a
        network without hidden layers has no delta below its output: an empty one)."""
        s = self.stream
        below = (
            deltas[-2] if len(self.W) > 1 else cuda.device_array((batch, 0), np.float32, stream=s)
        )
        return Launch(
            gpu_kernels.output_layer, (batch,), gpu_kernels.OUT_THREADS,
            (hs[-2], self.W[-1], self.biases[-1], yb, np.float32(1.0 / batch), deltas[-1], below,
             self.stats, self.pos), s,
        )  # fmt: skip

    def _backward(self, hs: list, deltas: list, batch: int) -> tuple[list[Product], list]:
        """The backward pass from the top layer down: its products, and its launches in step
        order, the StreamWaits that fork and join the weight gradients' branches among them."""
        s, layers = self.stream, len(self.W)
        products, launches, joins = [], [], []
        for l in reversed(range(layers)):
            # dW = h.T @ delta, with the bias gradient (delta's column sums) in the same launch;
            # then, below the first layer and the output layer (which did its own), the layer
            # below's delta = (delta @ W.T) * (h > 0). Nothing in the step reads a weight
            # gradient but the update, so each one above the first layer runs on a stream of
            # its own, beside the chain of deltas (branches of the graph), joined before the
            # update; dW 1 needs the last delta, so it stays on the chain.
            side = self._branches[l - 1] if l else s
            dW = self._product(f"dW {l + 1}", hs[l], deltas[l + 1], self.gW[l], batch,
                               trans_a=True, col_sums=self.gb[l], stream=side)  # fmt: skip
            products.append(dW)
            if l:
                launches += [StreamWait(s, side), dW.launch]
                joins.append(StreamWait(side, s))
            else:
                launches.append(dW.launch)
            if 0 < l < layers - 1:
                delta = self._product(f"delta {l}", deltas[l + 1], self.W[l], deltas[l],
                                      self.widths[l + 1], trans_b=True, mask=hs[l])  # fmt: skip
                products.append(delta)
                launches.append(delta.launch)
        return products, launches + joins

    def _gather_source(self) -> tuple:
        """Where a step's batch is gathered from: the resident x (n, n_0), y (n,) and the
        epoch's order (n,); empty arrays before load (a step on a host batch gathers nothing)."""
        if self.x is not None:
            return self.x, self.y, self.order
        s = self.stream
        return (cuda.device_array((0, self.widths[0]), np.float32, stream=s),
                cuda.device_array(0, np.int32, stream=s), cuda.device_array(0, np.int32, stream=s))  # fmt: skip

    def _update(self, data: tuple) -> Launch:
        """SGD on every parameter at once, then the next step's batch gathered from `data`."""
        cfg = self.config
        return Launch(
            gpu_kernels.sgd_update, (_blocks(self.P.size, UPDATE_BLOCKS_PER_SM * self.sms),),
            THREADS,
            (self.P, self.V, self.G, self.lrs, self.pos, np.float32(cfg.momentum),
             np.float32(cfg.weight_decay), self.n_decay, cfg.nesterov,
             *data, cfg.batch_size, self.xb, self.yb), self.stream,
        )  # fmt: skip

    def _gather(self, data: tuple) -> Launch:
        """The batch of step pos[0] from `data` into xb, yb: an epoch's first (each step's
        update gathers the next)."""
        cfg = self.config
        return Launch(
            gpu_kernels.gather_batch, (_blocks(cfg.batch_size * self.widths[0]),), THREADS,
            (*data, self.pos, cfg.batch_size, self.xb, self.yb), self.stream,
        )  # fmt: skip

    def _graph(self, batch: int, steps: int = 1) -> StepGraph:
        """`steps` steps of `batch` rows as one CUDA graph. The first graph of a batch size is
        preceded by an eager run of its step, to compile (or load from numba's cache) every
        kernel outside the capture, the epoch's gather with them; its effects are undone. The
        eager run counts as compile_seconds, the rest (planning the step, keeping and restoring
        the state, capturing) as capture_seconds."""
        if (batch, steps) in self._graphs:
            return self._graphs[(batch, steps)]
        started = time.perf_counter()
        plan = self.step_plan(batch)
        t0 = t1 = time.perf_counter()
        if not any(size == batch for size, _ in self._graphs):
            state = (self.P, self.V, self.pos, self.stats, self.xb, self.yb)
            saved = [a.copy_to_host(stream=self.stream) for a in state]
            self.stream.synchronize()
            t0 = time.perf_counter()
            for launch in ([plan.gather] if plan.gather else []) + plan.train:
                launch()
            self.stream.synchronize()
            t1 = time.perf_counter()
            for a, host in zip(state, saved, strict=True):
                a.copy_to_device(host, stream=self.stream)
        self._graphs[(batch, steps)] = graph = StepGraph(plan.train * steps, self.stream)
        self.stream.synchronize()
        self.compile_seconds += t1 - t0
        self.capture_seconds += time.perf_counter() - t1 + (t0 - started)
        return graph

    # -- running -------------------------------------------------------------------------------
    def _read_stats(self) -> tuple[float, int]:
        stats = self.stats.copy_to_host(stream=self.stream)
        self.stats.copy_to_device(np.zeros(2, np.float64), stream=self.stream)
        self.stream.synchronize()
        loss_sum, correct = stats
        return float(loss_sum), round(correct)

    def step(self, x: np.ndarray, y: np.ndarray, lr: float) -> tuple[float, int]:
        """One step on a host batch (tests, and the same interface as the CPU trainer)."""
        step = self.step_plan(len(y))
        s = self.stream
        step.xb.copy_to_device(np.ascontiguousarray(x, np.float32), stream=s)
        step.yb.copy_to_device(np.ascontiguousarray(y, np.int32), stream=s)
        self.lrs[:1].copy_to_device(np.array([lr], np.float32), stream=s)
        self.pos.copy_to_device(np.zeros(1, np.int32), stream=s)
        for launch in step.train:
            launch()
        loss_sum, correct = self._read_stats()
        return loss_sum / len(y), correct

    def _upload_epoch(self, order: np.ndarray, lrs: list[float]) -> int:
        """Check an epoch's permutation and learning rates against the loaded data and upload
        them (asynchronously, on the trainer's stream); returns the number of steps."""
        if self.x is None:
            raise RuntimeError("load() the training set before run_epoch()")
        n, batch_size = len(order), self.config.batch_size
        steps = math.ceil(n / batch_size)
        if n != self.order.size or len(lrs) != steps:
            raise ValueError(
                f"run_epoch: expected {self.order.size} rows and "
                f"{math.ceil(self.order.size / batch_size)} learning rates, got {n} rows and "
                f"{len(lrs)}"
            )
        self.order.copy_to_device(order.astype(np.int32), stream=self.stream)
        self.lrs.copy_to_device(np.asarray(lrs, np.float32), stream=self.stream)
        return steps

    def run_epoch(
        self, order: np.ndarray, lrs: list[float], bar=None, meanwhile=None
    ) -> tuple[float, int]:
        """All steps of an epoch over the resident data in the order `order`; returns the summed
        loss and the number correct, read from the device once at the end (see trainer.py).
        Launches only queue work, so `meanwhile()` runs on the host while the GPU trains, after
        the last launch and before the wait for the epoch's loss."""
        self._upload_epoch(order, lrs)
        n, s, batch_size = len(order), self.stream, self.config.batch_size
        self.pos.copy_to_device(np.zeros(1, np.int32), stream=s)
        sizes = [min(batch_size, n - start) for start in range(0, n, batch_size)]
        if self.use_graphs:  # set up before the first launch, so the epoch's time is its steps
            graphs = [(self._graph(batch, steps), steps)
                      for batch, steps in graph_runs(sizes, self.steps_per_graph)]  # fmt: skip
        self.step_plan(sizes[0]).gather()  # the first batch; each step's update gathers the next
        if self.use_graphs:
            for graph, steps in graphs:
                graph.launch()
                if bar is not None:
                    bar.update(steps)
        else:
            for batch in sizes:
                for launch in self.step_plan(batch).train:
                    launch()
                if bar is not None:
                    bar.update()
        if meanwhile is not None:
            meanwhile()
        loss_sum, correct = self._read_stats()
        if bar is not None:
            bar.set_postfix(loss=loss_sum / n, acc=correct / n)
        return loss_sum, correct

    def logits(self, x: np.ndarray, batch: int = 4096) -> np.ndarray:
        out = []
        for start in range(0, len(x), batch):
            chunk = np.ascontiguousarray(x[start : start + batch], np.float32)
            step = self.step_plan(len(chunk))
            step.xb.copy_to_device(chunk, stream=self.stream)
            for launch in step.forward:
                launch()
            out.append(step.out.copy_to_host(stream=self.stream))
        self.stream.synchronize()
        return np.concatenate(out)
