"""The small CUDA kernels of a training step that Phase 4 does not already have (numba.cuda,
float32): gathering a mini-batch from the resident data set, the fused softmax + cross-entropy
+ gradient, one SGD update for all parameters, and the step counter.

Every product of the step, forward and backward, is Phase 4's matmul kernel: the forward pass
with bias + ReLU in its epilogue, the weight gradient as a transposed-operand product that also
sums the bias gradient, the input gradient as a transposed-operand product masked by ReLU's
gradient. These kernels are simple grid-stride loops: at MNIST's sizes they take a few
microseconds each.

The step reads where it is from the device: `pos[0]` is the step's index in the epoch, which picks
its rows of the permutation and its learning rate, and `advance` moves it on as the step's last
launch. So every step launches the same kernels with the same arguments, which is what lets a
CUDA graph replay it (see gpu.py).
"""

from __future__ import annotations

import math

from numba import cuda, float32, float64

__all__ = ["SOFTMAX_THREADS", "advance", "gather_batch", "sgd_update", "softmax_xent"]


@cuda.jit(cache=True)
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


SOFTMAX_THREADS = 128  # softmax_xent's block size: one thread per row


@cuda.jit(cache=True)
def softmax_xent(logits, labels, scale, delta, stats):
    # logits, delta: (b, classes); labels: (b,); stats: (2,) float64 accumulators (loss sum,
    # correct count). One thread per row: delta = (softmax - onehot) * scale. Each block sums
    # its rows' loss and hits in shared memory and adds them to stats once (two atomics per
    # block, not per row: same-address atomics are served one at a time).
    r = cuda.grid(1)
    t = cuda.threadIdx.x
    loss_sh = cuda.shared.array(SOFTMAX_THREADS, float64)
    hit_sh = cuda.shared.array(SOFTMAX_THREADS, float64)
    loss_sh[t] = 0.0
    hit_sh[t] = 0.0
    if r < logits.shape[0]:
        classes = logits.shape[1]
        top = logits[r, 0]
        arg = 0
        for j in range(1, classes):
            if logits[r, j] > top:
                top = logits[r, j]
                arg = j
        total = float32(0.0)
        for j in range(classes):
            total += math.exp(logits[r, j] - top)
        label = labels[r]
        for j in range(classes):
            p = math.exp(logits[r, j] - top) / total
            delta[r, j] = (p - float32(1.0 if j == label else 0.0)) * scale
        loss_sh[t] = float64(math.log(total) + top - logits[r, label])
        hit_sh[t] = 1.0 if arg == label else 0.0
    cuda.syncthreads()
    half = SOFTMAX_THREADS // 2
    while half > 0:  # a tree sum in a fixed order
        if t < half:
            loss_sh[t] += loss_sh[t + half]
            hit_sh[t] += hit_sh[t + half]
        cuda.syncthreads()
        half //= 2
    if t == 0:
        cuda.atomic.add(stats, 0, loss_sh[0])
        cuda.atomic.add(stats, 1, hit_sh[0])


@cuda.jit(cache=True)
def sgd_update(value, velocity, grad, lrs, pos, momentum, decay, n_decay, nesterov):
    # value, velocity, grad: (n,) every parameter in one flat buffer, the weights first: the
    # first n_decay elements get weight decay, the biases after them do not. lr = lrs[pos[0]].
    # The same rule as mlp.reference_step.
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    lr = lrs[pos[0]]
    for k in range(i, value.shape[0], stride):
        g = grad[k] + (decay * value[k] if k < n_decay else float32(0.0))
        v = momentum * velocity[k] + g
        velocity[k] = v
        value[k] -= lr * (g + momentum * v if nesterov else v)


@cuda.jit(cache=True)
def advance(pos):
    # the step's last launch: the next step reads the next rows and learning rate
    if cuda.grid(1) == 0:
        pos[0] += 1
