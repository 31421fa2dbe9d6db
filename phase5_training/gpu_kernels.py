"""The small CUDA kernels of a training step that Phase 4 does not already have (numba.cuda,
float32): gathering a mini-batch from the resident data set, the fused softmax + cross-entropy
+ gradient, the bias gradient, ReLU's gradient, a transpose, and one SGD update.

The products (and the forward pass's bias + ReLU epilogue) are Phase 4's matmul kernel. These are
simple one-thread-per-element kernels: at MNIST's sizes a step is bound by launches, not by them.
"""

from __future__ import annotations

import math

from numba import cuda, float32, float64

__all__ = [
    "col_sums",
    "gather_batch",
    "relu_backward",
    "sgd_update",
    "softmax_xent",
    "transpose",
]


@cuda.jit
def gather_batch(x, y, order, start, xb, yb):
    # x: (n, d) resident data, y: (n,), order: (n,) this epoch's permutation;
    # xb: (b, d), yb: (b,) get rows order[start:start+b]
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    b, d = xb.shape
    for flat in range(i, b * d, stride):
        r = flat // d
        c = flat - r * d
        src = order[start + r]
        xb[r, c] = x[src, c]
        if c == 0:
            yb[r] = y[src]


@cuda.jit
def softmax_xent(logits, labels, scale, delta, stats):
    # logits, delta: (b, classes); labels: (b,); stats: (2,) float64 accumulators (loss sum,
    # correct count). One thread per row: delta = (softmax - onehot) * scale.
    r = cuda.grid(1)
    if r >= logits.shape[0]:
        return
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
    loss = float64(math.log(total) + top - logits[r, label])
    cuda.atomic.add(stats, 0, loss)
    cuda.atomic.add(stats, 1, float64(1.0 if arg == label else 0.0))


@cuda.jit
def col_sums(a, out):
    # a: (rows, cols) -> out (cols,): the bias gradient, one thread per column
    j = cuda.grid(1)
    if j < a.shape[1]:
        acc = float32(0.0)
        for i in range(a.shape[0]):
            acc += a[i, j]
        out[j] = acc


@cuda.jit
def relu_backward(grad, h, out):
    # grad, h, out: (rows, cols); out = grad where h > 0 (h: the ReLU's output)
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    rows, cols = grad.shape
    for flat in range(i, rows * cols, stride):
        r = flat // cols
        c = flat - r * cols
        out[r, c] = grad[r, c] if h[r, c] > float32(0.0) else float32(0.0)


@cuda.jit
def transpose(a, out):
    # a: (rows, cols) -> out (cols, rows)
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    rows, cols = a.shape
    for flat in range(i, rows * cols, stride):
        r = flat // cols
        c = flat - r * cols
        out[c, r] = a[r, c]


@cuda.jit
def sgd_update(value, velocity, grad, lr, momentum, decay, nesterov):
    # value, velocity, grad: (n,) flat views of one parameter; as mlp.reference_step
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    for k in range(i, value.shape[0], stride):
        g = grad[k] + decay * value[k]
        v = momentum * velocity[k] + g
        velocity[k] = v
        value[k] -= lr * (g + momentum * v if nesterov else v)
