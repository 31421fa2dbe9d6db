"""The CUDA kernels of a training step that Phase 4 does not already have (numba.cuda, float32):
gathering a mini-batch from the resident data set, the output layer fused with softmax +
cross-entropy + its gradient and the layer below's delta, and one SGD update for all parameters.

Every other product of the step is Phase 4's matmul kernel: the hidden layers with bias + ReLU
in its epilogue, the weight gradient as a transposed-operand product that also sums the bias
gradient, the input gradient as a transposed-operand product masked by ReLU's gradient. The
output layer has too few columns (10) for a tiled product to use the GPU: one block per row does
it, the loss with it, and the input gradient below it, whose row r needs only row r of delta.

The step reads where it is from the device: `pos[0]` is the step's index in the epoch, which picks
its rows of the permutation and its learning rate. The output layer moves `pos` on (no kernel
before it reads `pos`, and none between it and the update); the update, the step's last kernel,
takes its learning rate at `pos[0] - 1` and gathers the next step's rows, those of `pos[0]`. So
every step launches the same kernels with the same arguments, which is what lets a CUDA graph
replay it (see gpu.py).
"""

from __future__ import annotations

import math

from numba import cuda, float32, float64

from phase4_cuda.device import simulated
from phase4_cuda.kernel_cache import cached

__all__ = [
    "MAX_CLASSES",
    "OUT_THREADS",
    "SEGMENTS",
    "gather_batch",
    "gather_rows",
    "output_layer",
    "sgd_update",
]


@cuda.jit(device=True)
def gather_rows(x, y, order, start, rows, xb, yb):
    # This thread's share of copying rows order[start : start + rows] of the resident data
    # (x: (n, d), y: (n,)) into xb: (>= rows, d) and yb, in a grid-stride loop over the
    # elements; rows <= 0 copies nothing.
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    d = xb.shape[1]
    for flat in range(i, rows * d, stride):
        r = flat // d
        c = flat - r * d
        src = order[start + r]
        xb[r, c] = x[src, c]
        if c == 0:
            yb[r] = y[src]


@cached
@cuda.jit
def gather_batch(x, y, order, pos, batch, xb, yb):
    # order: (n,) this epoch's permutation; pos: (1,) the step; xb: (batch, d), yb: (batch,)
    # get the step's rows, order[start : start + batch] with start = pos[0] * batch (fewer for
    # the last step of an epoch)
    start = pos[0] * batch
    gather_rows(x, y, order, start, min(batch, order.shape[0] - start), xb, yb)


#: the fused output layer: threads per row (a block each), the most classes it handles, and the
#: segments of its two-level sum (OUT_THREADS // SEGMENTS partial sums each, then SEGMENTS per
#: class; needs MAX_CLASSES * SEGMENTS <= OUT_THREADS). In numba's simulator a quarter of the
#: threads: each is a Python thread started for every row of every step, and 128 of them made
#: this kernel a third of a small run's time there (the sums then add in another order).
OUT_THREADS = 32 if simulated() else 128
MAX_CLASSES = 16
SEGMENTS = 2 if simulated() else 8


@cached
@cuda.jit
def output_layer(h, W, bias, labels, scale, delta, below, stats, pos):
    # The last layer, the loss and the first step of backpropagation in one kernel: logits =
    # h @ W + bias, softmax, cross-entropy and its gradient delta = (softmax - onehot) * scale,
    # then the layer below's delta, below = (delta @ W.T) * (h > 0). h: (b, k) the last hidden
    # layer, W: (k, c), bias: (c,), labels: (b,), delta: (b, c); below: (b, k), or (b, 0) when
    # h is the network's input (nothing below to backpropagate to); stats: (2,) float64 (loss
    # sum, correct count); pos: (1,) the step, which this kernel moves on (see sgd_update).
    # One block per row: the threads split k, and their partial sums meet in shared memory in
    # two levels (thread j * SEGMENTS + s sums segment s of class j, thread j < c the segments:
    # a fixed order, and three barriers where a tree needs nine); thread j < c takes class j's
    # softmax, and the threads split k again for `below`, which needs only this row of delta.
    part = cuda.shared.array((OUT_THREADS, MAX_CLASSES), float32)
    seg = cuda.shared.array((MAX_CLASSES, SEGMENTS), float32)
    z = cuda.shared.array(MAX_CLASSES, float32)  # the row's logits
    d = cuda.shared.array(MAX_CLASSES, float32)  # the row's delta
    acc = cuda.local.array(MAX_CLASSES, float32)
    t = cuda.threadIdx.x
    r = cuda.blockIdx.x
    k = h.shape[1]
    c = W.shape[1]
    for j in range(MAX_CLASSES):  # constant bounds: acc stays in registers
        acc[j] = float32(0.0)
    for kk in range(t, k, OUT_THREADS):
        x = h[r, kk]
        for j in range(MAX_CLASSES):
            if j < c:
                acc[j] += x * W[kk, j]
    for j in range(MAX_CLASSES):
        part[t, j] = acc[j]
    cuda.syncthreads()
    j = t // SEGMENTS
    if j < c:
        s = t - j * SEGMENTS
        rows = OUT_THREADS // SEGMENTS
        v = float32(0.0)
        for q in range(rows):
            v += part[s * rows + q, j]
        seg[j, s] = v
    cuda.syncthreads()
    if t < c:
        v = bias[t]
        for q in range(SEGMENTS):
            v += seg[t, q]
        z[t] = v
    cuda.syncthreads()
    # every thread finds the maximum and the softmax's denominator, in the same order
    top = z[0]
    arg = 0
    for j in range(1, c):
        if z[j] > top:
            top, arg = z[j], j
    total = float32(0.0)
    for j in range(c):
        total += math.exp(z[j] - top)
    label = labels[r]
    if t < c:
        g = (math.exp(z[t] - top) / total - float32(1.0 if t == label else 0.0)) * scale
        delta[r, t] = g
        d[t] = g
    if t == 0:  # the row's loss and hit (same-address atomics: one per row and statistic)
        cuda.atomic.add(stats, 0, float64(math.log(total) + top - z[label]))
        cuda.atomic.add(stats, 1, 1.0 if arg == label else 0.0)
        if r == 0:
            pos[0] += 1  # nothing else in this kernel reads pos
    cuda.syncthreads()
    for kk in range(t, below.shape[1], OUT_THREADS):
        v = float32(0.0)
        if h[r, kk] > float32(0.0):
            for j in range(c):
                v += d[j] * W[kk, j]
        below[r, kk] = v


@cached
@cuda.jit
def sgd_update(value, velocity, grad, lrs, pos, momentum, decay, n_decay, nesterov,
               x, y, order, batch, xb, yb):  # fmt: skip
    # value, velocity, grad: (n,) every parameter in one flat buffer, the weights first: the
    # first n_decay elements get weight decay, the biases after them do not. The output layer
    # has already moved pos on, so this step is pos[0] - 1 and lr = lrs[pos[0] - 1]. The same
    # rule as phase2_numpy.train.sgd_update. Then the next step's batch is gathered
    # (gather_batch's rows for pos[0]; none after an epoch's last step, or with an empty
    # `order`): nothing later in this step reads xb or yb, and the next step reads them first.
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    step = pos[0]
    lr = lrs[step - 1]
    for k in range(i, value.shape[0], stride):
        g = grad[k] + (decay * value[k] if k < n_decay else float32(0.0))
        v = momentum * velocity[k] + g
        velocity[k] = v
        value[k] -= lr * (g + momentum * v if nesterov else v)
    start = step * batch
    gather_rows(x, y, order, start, min(batch, order.shape[0] - start), xb, yb)
