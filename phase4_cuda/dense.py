"""The forward pass of an MLP on the GPU: a fused dense layer (product + bias + activation in one
kernel), a row-wise softmax, and a network built from them. Matches Phase 1 and NumPy.

The dense layer is rung 7 of the matmul ladder (matmul/k07_wide.py) with its epilogue
(matmul/epilogues.py): each output element gets its bias and activation while it is still in a
register, so the pre-activation never goes to global memory (one launch, one write of the output
instead of three of each).
The softmax runs one block per row: a shared-memory reduction for the row's maximum (subtracted
for stability), another for the sum of exponentials, then one normalised write.
Deliberately forward only: the backward kernels belong to Phase 5's trainer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numba import cuda, float32

from phase4_cuda.device import as_device, is_device_array, require_gpu
from phase4_cuda.kernel_cache import cached
from phase4_cuda.matmul import ACTIVATIONS, Launch, check_activation, plan

__all__ = ["ACTIVATIONS", "dense_forward", "mlp_forward", "softmax"]

SOFTMAX_THREADS = 128  # a power of two, for the tree reduction


def _check_dense(x, w, b):
    (batch, n_in), (n_in2, n_out) = x.shape, w.shape
    if n_in != n_in2:
        raise ValueError(
            f"dense: x is ({batch}, {n_in}) but W is ({n_in2}, {n_out}): {n_in} != {n_in2}"
        )
    if b.shape != (n_out,):
        raise ValueError(f"dense: bias has shape {b.shape}, expected ({n_out},)")
    return batch, n_out


def _dense(dx, dw, db, activation):
    batch, n_out = _check_dense(dx, dw, db)
    dout = cuda.device_array((batch, n_out), dtype=np.float32)
    plan("wide", dx, dw, dout, bias=db, activation=activation)()
    return dout


def dense_forward(x, w, b, activation: str | None = "relu"):
    """act(x @ W + b) in one kernel. x: (batch, n_in), W: (n_in, n_out), b: (n_out,).
    activation: one of matmul.ACTIVATIONS (None: no activation). NumPy in, NumPy out; device
    in, device out."""
    require_gpu()
    check_activation(activation)
    on_device = any(is_device_array(v) for v in (x, w, b))
    dout = _dense(as_device(x, "x", 2), as_device(w, "W", 2), as_device(b, "b", 1), activation)
    return dout if on_device else dout.copy_to_host()


@cached
@cuda.jit(fastmath=True)
def softmax_rows(x, out):
    # x, out: (rows, cols); one block of SOFTMAX_THREADS threads per row
    row = cuda.blockIdx.x
    t = cuda.threadIdx.x
    cols = x.shape[1]
    red = cuda.shared.array(SOFTMAX_THREADS, float32)
    top = -math.inf
    for j in range(t, cols, SOFTMAX_THREADS):
        top = max(top, x[row, j])
    red[t] = top
    cuda.syncthreads()
    step = SOFTMAX_THREADS // 2
    while step > 0:
        if t < step:
            red[t] = max(red[t], red[t + step])
        cuda.syncthreads()
        step //= 2
    top = red[0]
    cuda.syncthreads()  # everyone has read red[0] before it is reused
    total = float32(0.0)
    for j in range(t, cols, SOFTMAX_THREADS):
        total += math.exp(x[row, j] - top)
    red[t] = total
    cuda.syncthreads()
    step = SOFTMAX_THREADS // 2
    while step > 0:
        if t < step:
            red[t] += red[t + step]
        cuda.syncthreads()
        step //= 2
    scale = float32(1.0) / red[0]
    for j in range(t, cols, SOFTMAX_THREADS):
        out[row, j] = math.exp(x[row, j] - top) * scale


def _softmax(dx):
    dout = cuda.device_array(dx.shape, dtype=np.float32)
    Launch(softmax_rows, (dx.shape[0],), SOFTMAX_THREADS, (dx, dout))()
    return dout


def softmax(x):
    """Row-wise softmax of a (rows, cols) array. NumPy in, NumPy out; device in, device out."""
    require_gpu()
    dout = _softmax(as_device(x, "x", 2))
    return dout if is_device_array(x) else dout.copy_to_host()


def mlp_forward(x, weights: Sequence, biases: Sequence, activation: str = "relu"):
    """Class probabilities of an MLP: hidden layers act(h @ W + b), the last layer's logits through
    softmax. x: (batch, n_0); weights[i]: (n_i, n_{i+1}); biases[i]: (n_{i+1},). Everything stays
    on the GPU between layers; NumPy in, NumPy out."""
    require_gpu()
    if len(weights) != len(biases) or not weights:
        raise ValueError(f"need one bias per weight matrix, got {len(weights)} and {len(biases)}")
    if activation is None:  # the hidden layers need one: without it the network is linear
        raise ValueError(f"mlp_forward needs an activation, one of {[a for a in ACTIVATIONS if a]}")
    check_activation(activation)
    on_device = is_device_array(x)
    h = as_device(x, "x", 2)
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        last = i == len(weights) - 1
        h = _dense(
            h,
            as_device(w, f"weights[{i}]", 2),
            as_device(b, f"biases[{i}]", 1),
            None if last else activation,
        )
    probs = _softmax(h)
    return probs if on_device else probs.copy_to_host()
