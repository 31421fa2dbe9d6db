"""The CUDA kernels of a training step that Phase 4 does not already have (numba.cuda, float32):
gathering a mini-batch from the resident data set, the output layer fused with softmax +
cross-entropy + its gradient, and one SGD update for all parameters.

Every other product of the step is Phase 4's matmul kernel: the hidden layers with bias + ReLU
in its epilogue, the weight gradient as a transposed-operand product that also sums the bias
gradient, the input gradient as a transposed-operand product masked by ReLU's gradient. The
output layer has too few columns (10) for a tiled product to use the GPU: one warp per row does
it, and the loss with it.

The step reads where it is from the device: `pos[0]` is the step's index in the epoch, which picks
its rows of the permutation and its learning rate, and the update's last block moves it on. So
every step launches the same kernels with the same arguments, which is what lets a CUDA graph
replay it (see gpu.py).
"""

from __future__ import annotations

import math

from numba import cuda, float32, float64

from phase4_cuda.kernel_cache import cached

__all__ = ["MAX_CLASSES", "OUT_ROWS", "gather_batch", "output_layer", "sgd_update"]


@cached
@cuda.jit
def gather_batch(x, y, order, pos, batch, xb, yb):
    # x: (n, d) resident data, y: (n,), order: (n,) this epoch's permutation; pos: (1,) the step;
    # xb: (b, d), yb: (b,) get rows order[start:start+b], start = pos[0] * batch
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    b, d = xb.shape
    start = pos[0] * batch
    for flat in range(i, b * d, stride):
        r = flat // d
        c = flat - r * d
        src = order[start + r]
        xb[r, c] = x[src, c]
        if c == 0:
            yb[r] = y[src]


#: the fused output layer: rows per block (a warp each), and the most classes it handles
OUT_ROWS = 4
MAX_CLASSES = 16
_PART_ROWS = OUT_ROWS * 32  # shared-array shapes must be plain constants, not expressions


@cached
@cuda.jit
def output_layer(h, W, bias, labels, scale, delta, stats):
    # The last layer and the loss in one kernel: logits = h @ W + bias, softmax, cross-entropy
    # and its gradient delta = (softmax - onehot) * scale. h: (b, k) the last hidden layer,
    # W: (k, c), bias: (c,), labels: (b,), delta: (b, c); stats: (2,) float64 (loss sum,
    # correct count). One warp per row: the lanes split k, their partial sums meet in shared
    # memory (a tree, so the order is fixed), and lane 0 finishes the row. Each block adds its
    # rows' loss and hits to stats once (same-address atomics are served one at a time).
    part = cuda.shared.array((_PART_ROWS, MAX_CLASSES), float32)
    row_loss = cuda.shared.array(OUT_ROWS, float64)
    row_hit = cuda.shared.array(OUT_ROWS, float64)
    acc = cuda.local.array(MAX_CLASSES, float32)
    t = cuda.threadIdx.x
    warp, lane = t // 32, t % 32
    r = cuda.blockIdx.x * OUT_ROWS + warp
    b, k = h.shape
    c = W.shape[1]
    for j in range(MAX_CLASSES):  # constant bounds: acc stays in registers
        acc[j] = float32(0.0)
    if r < b:
        for kk in range(lane, k, 32):
            x = h[r, kk]
            for j in range(MAX_CLASSES):
                if j < c:
                    acc[j] += x * W[kk, j]
    for j in range(MAX_CLASSES):
        part[t, j] = acc[j]
    cuda.syncthreads()
    step = 16
    while step > 0:
        if lane < step:
            for j in range(MAX_CLASSES):
                part[t, j] += part[t + step, j]
        cuda.syncthreads()
        step //= 2
    if lane == 0:
        row_loss[warp] = 0.0
        row_hit[warp] = 0.0
        if r < b:
            first = warp * 32
            top = part[first, 0] + bias[0]
            arg = 0
            for j in range(1, c):
                z = part[first, j] + bias[j]
                if z > top:
                    top, arg = z, j
            total = float32(0.0)
            for j in range(c):
                total += math.exp(part[first, j] + bias[j] - top)
            label = labels[r]
            for j in range(c):
                p = math.exp(part[first, j] + bias[j] - top) / total
                delta[r, j] = (p - float32(1.0 if j == label else 0.0)) * scale
            row_loss[warp] = float64(math.log(total) + top - (part[first, label] + bias[label]))
            row_hit[warp] = 1.0 if arg == label else 0.0
    cuda.syncthreads()
    if t == 0:
        loss, hits = float64(0.0), float64(0.0)
        for w in range(OUT_ROWS):
            loss += row_loss[w]
            hits += row_hit[w]
        cuda.atomic.add(stats, 0, loss)
        cuda.atomic.add(stats, 1, hits)


@cached
@cuda.jit
def sgd_update(value, velocity, grad, lrs, pos, momentum, decay, n_decay, nesterov, done):
    # value, velocity, grad: (n,) every parameter in one flat buffer, the weights first: the
    # first n_decay elements get weight decay, the biases after them do not. lr = lrs[pos[0]].
    # The same rule as phase2_numpy.train.sgd_update. The last block to finish moves the step on
    # (pos += 1), when every block has read lr: done (1,) int32 counts finished blocks.
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    lr = lrs[pos[0]]
    for k in range(i, value.shape[0], stride):
        g = grad[k] + (decay * value[k] if k < n_decay else float32(0.0))
        v = momentum * velocity[k] + g
        velocity[k] = v
        value[k] -= lr * (g + momentum * v if nesterov else v)
    cuda.syncthreads()  # this block's threads have all read lr
    if cuda.threadIdx.x == 0:
        cuda.threadfence()
        if cuda.atomic.add(done, 0, 1) == cuda.gridDim.x - 1:
            done[0] = 0
            pos[0] += 1
