"""The step as one persistent kernel: every step of an epoch inside a single cooperative launch,
its stages separated by grid-wide barriers instead of kernel boundaries (numba.cuda, float32).
persistent.py is the trainer that launches it; persistent_tiles.py holds the tiled product its
stages are made of.

gpu.py's step is eight kernels replayed from CUDA graphs. Even the smallest of them costs 4.5-6 us
on an H200 (starting its blocks, their first loads, the tail of the last wave; an empty kernel
costs 0.9), and a 128-row step has little to do. Here the blocks are started once per launch and
stay: every block is resident at once (a cooperative launch guarantees it, and `grid.sync()` is a
barrier over the whole grid, about 1.6 us), and between barriers they share out the work of a
stage as *items*: output tiles, slices of K, rows.

One step of the 784-512-256-10 network is five stages (a batch of B rows, layer widths n0-n1-n2-c):

    A  forward 1, split-K:  p1[s] = x_b @ W1 over the s-th slice of K (slices summed by B)
    B  forward 2, split-K:  p2[s] = h1 @ W2, where the A-operand loader forms
                            h1 = relu(sum_s p1[s] + b1) as it reads, and keeps h1 for backward
    C  the output layer, a warp per row: h2 = relu(sum_s p2[s] + b2), logits, softmax, the loss,
                            delta3 = (softmax - onehot) / B, and straight away
                            delta2 = (delta3 @ W3.T) * (h2 > 0), which needs only that row
    D  delta 1, split-K:    q[s] = delta2 @ W2.T (masked by B-operand loaders in E);
                            dW3 = h2.T @ delta3 and db3, each applied at once (SGD with momentum)
    E  dW2 = h1.T @ delta2, dW1 = x_b.T @ delta1 with delta1 = (sum_s q[s]) * (h1 > 0) formed as
                            it is read, and db2, db1: each applied where it is computed; then the
                            next step's batch is gathered (into the other of two buffers)

Every fusion follows from one question: which stage may write a value that another reads? A
weight may be updated only once no stage of the step still reads it (W3 after C, W2 and W1 in
the last stage), and a weight gradient that one block computes whole (K = B is short: no split)
can be applied by that block at once, so no gradient is ever stored. The slices of a split-K
product are not summed in a stage of their own: the next stage's loader adds them as it reads.
Sums run in a fixed order (no atomics but the loss and hit counts, in float64), so a run is
repeatable; the results differ from gpu.py's only in float32 rounding.

The kernel is written for networks of two hidden layers, the course's 784-512-256-10 and any
other widths of that depth, in FP32 on the CUDA cores. Under numba's simulator a cooperative grid
is one block, which then does every item of every stage: slow, but the same code.
"""

from __future__ import annotations

import functools
import math
from enum import IntFlag
from typing import NamedTuple

import numpy as np
from numba import cuda, float32, float64

from phase4_cuda.device import simulated
from phase5_training.gpu_kernels import MAX_CLASSES
from phase5_training.persistent_tiles import (
    MASKED_SUM,
    PADDED,
    PLAIN,
    RELU_SUM,
    THREADS,
    TILE,
    TRANS,
    WARPS,
    Operand,
    Sgd,
    Shape,
    TileBuffers,
    bias_item,
    gradient_item,
    split_item,
)

__all__ = ["MAX_REGISTERS", "EpochData", "Layers", "Scratch", "Stage", "Update", "steps_kernel"]

#: registers a thread may use (steps_kernel)
MAX_REGISTERS = 128
COLUMNS_AT_ONCE = 8  # stage C: a lane's columns handled at a time (all loads, then the stores)


class Stage(IntFlag):
    """The stages of a step (module docstring) as bits of the kernel's `stages` mask: the stages
    whose bit is set do their work, the others only meet at the barriers (tune_step times the
    stages this way); the gathers of the batches always run."""

    A = 1
    B = 2
    C = 4
    D = 8
    E = 16
    ALL = A | B | C | D | E


# plain ints for the kernel, as persistent_tiles.py does for Loader
_A, _B, _C, _D, _E = map(int, (Stage.A, Stage.B, Stage.C, Stage.D, Stage.E))


# -- the kernel's arguments: named groups of arrays (a tuple's members reach it one by one) --------
class EpochData(NamedTuple):
    """What a launch trains on, on the device: x (n, n0) float32, y (n,) int32 labels, the
    epoch's order (n,) int32 of rows, and its steps' learning rates (steps,) float32."""

    x: object
    y: object
    order: object
    lrs: object


class Layers(NamedTuple):
    """The parameters as the kernel reads them, one entry a layer: weights and their velocities
    3-d, (1, n_in, n_out) each; biases and theirs 1-d. Every matrix is 3-d (parts, rows,
    columns), so that one loader reads them all (and no reshape runs in the kernel)."""

    W: tuple
    b: tuple
    V: tuple
    vb: tuple


class Update(NamedTuple):
    """The SGD settings that hold for every step (the learning rate is the step's)."""

    momentum: np.float32
    decay: np.float32
    nesterov: bool


class Scratch(NamedTuple):
    """The kernel's working arrays, allocated once for a batch size, every matrix 3-d (parts,
    rows, columns)."""

    xbuf: object  # (2, batch, n0): the batches' inputs, double-buffered
    ybuf: object  # (2, batch) int32: their labels
    p1: object  # (S1, batch, n1): forward 1's slices of K
    h1: object  # (1, batch, n1)
    p2: object  # (S2, batch, n2): forward 2's slices of K
    h2: object  # (1, batch, n2)
    d3: object  # (1, batch, c): the output layer's delta
    d2: object  # (1, batch, n2)
    q1: object  # (Sd, batch, n1): delta 1's slices of K, before ReLU's gradient

    @classmethod
    def allocate(cls, widths, batch: int, splits: tuple[int, int, int], stream) -> Scratch:
        n0, n1, n2, c = widths
        s1, s2, sd = splits

        def scratch(*shape, dtype=np.float32):
            return cuda.device_array(shape, dtype, stream=stream)

        return cls(
            scratch(2, batch, n0), scratch(2, batch, dtype=np.int32),
            scratch(s1, batch, n1), scratch(1, batch, n1), scratch(s2, batch, n2),
            scratch(1, batch, n2), scratch(1, batch, c), scratch(1, batch, n2),
            scratch(sd, batch, n1),
        )  # fmt: skip


class OutputBuffers(NamedTuple):
    """What stage C works in: the block's shared sums and the thread's registers."""

    part: object  # (THREADS, MAX_CLASSES) shared: each lane's partial logits
    dsh: object  # (WARPS, MAX_CLASSES) shared: each warp's row of delta3
    row_loss: object  # (WARPS,) float64 shared: each warp's row's loss
    row_hit: object  # (WARPS,) float64 shared: 1 where its row was classified right
    logit: object  # (MAX_CLASSES,) the lane's partial logits
    hv: object  # (COLUMNS_AT_ONCE,) the lane's values in flight


# -- stage C: the output layer, a warp per row -----------------------------------------------------
@cuda.jit(device=True, inline="always")
def _logits(r, rows, obufs, layers, scratch):
    # the warp's row r: h2 = relu(sum of p2's slices + b2) into h2, and each lane's partial
    # logits summed over the lanes in a fixed order (a tree) into part[warp * 32, :]
    t = cuda.threadIdx.x
    lane = t % 32
    p2, h2 = scratch.p2, scratch.h2
    b2, W3 = layers.b[1], layers.W[2]
    n2, c, s2 = layers.W[1].shape[2], W3.shape[2], p2.shape[0]
    logit, hv, part = obufs.logit, obufs.hv, obufs.part
    for j in range(MAX_CLASSES):
        logit[j] = float32(0.0)
    if r < rows:  # the lane's columns kk = lane + 32 q, COLUMNS_AT_ONCE at a time: loads, stores
        for base in range(0, n2, 32 * COLUMNS_AT_ONCE):
            for q in range(COLUMNS_AT_ONCE):
                kk = base + lane + 32 * q
                v = float32(0.0)
                if kk < n2:
                    v = b2[kk]
                    for p in range(s2):
                        v += p2[p, r, kk]
                hv[q] = v if v > float32(0.0) else float32(0.0)
            for q in range(COLUMNS_AT_ONCE):
                kk = base + lane + 32 * q
                if kk < n2:
                    for j in range(MAX_CLASSES):
                        if j < c:
                            logit[j] += hv[q] * W3[0, kk, j]
            for q in range(COLUMNS_AT_ONCE):
                kk = base + lane + 32 * q
                if kk < n2:
                    h2[0, r, kk] = hv[q]
    for j in range(MAX_CLASSES):
        part[t, j] = logit[j]
    cuda.syncthreads()
    step = 16
    while step > 0:  # the lanes' partial sums: a tree, so the order is fixed
        if lane < step:
            for j in range(MAX_CLASSES):
                part[t, j] += part[t + step, j]
        cuda.syncthreads()
        step //= 2


@cuda.jit(device=True, inline="always")
def _softmax_loss(r, rows, cur, obufs, layers, scratch):
    # lane 0 of each warp: softmax + cross-entropy of row r from its logits (part[warp * 32]
    # + b3), delta3 into d3 and the warp's dsh, the row's loss and hit into row_loss, row_hit
    warp = cuda.threadIdx.x // 32
    part, dsh = obufs.part, obufs.dsh
    b3, c = layers.b[2], layers.W[2].shape[2]
    obufs.row_loss[warp] = 0.0
    obufs.row_hit[warp] = 0.0
    if r < rows:
        first = warp * 32
        top = part[first, 0] + b3[0]
        arg = 0
        for j in range(1, c):
            z = part[first, j] + b3[j]
            if z > top:
                top, arg = z, j
        total = float32(0.0)
        for j in range(c):
            total += math.exp(part[first, j] + b3[j] - top)
        label = scratch.ybuf[cur, r]
        scale = float32(1.0) / float32(rows)
        for j in range(c):
            p = math.exp(part[first, j] + b3[j] - top) / total
            g = (p - float32(1.0 if j == label else 0.0)) * scale
            scratch.d3[0, r, j] = g
            dsh[warp, j] = g
        obufs.row_loss[warp] = float64(math.log(total) + top - (part[first, label] + b3[label]))
        obufs.row_hit[warp] = 1.0 if arg == label else 0.0


@cuda.jit(device=True, inline="always")
def _delta_2(r, rows, obufs, layers, scratch):
    # the warp's row r of delta2 = (delta3 @ W3.T) * (h2 > 0), from the warp's dsh
    lane, warp = cuda.threadIdx.x % 32, cuda.threadIdx.x // 32
    h2, d2, hv = scratch.h2, scratch.d2, obufs.hv
    W3 = layers.W[2]
    n2, c = layers.W[1].shape[2], W3.shape[2]
    if r < rows:
        for base in range(0, n2, 32 * COLUMNS_AT_ONCE):
            for q in range(COLUMNS_AT_ONCE):
                kk = base + lane + 32 * q
                v = float32(0.0)
                if kk < n2 and h2[0, r, kk] > float32(0.0):  # its own write in _logits
                    for j in range(c):
                        v += obufs.dsh[warp, j] * W3[0, kk, j]
                hv[q] = v
            for q in range(COLUMNS_AT_ONCE):
                kk = base + lane + 32 * q
                if kk < n2:
                    d2[0, r, kk] = hv[q]


@cuda.jit(device=True, inline="always")
def _output_item(item, rows, cur, obufs, layers, scratch, stats):
    # one item of stage C, rows item * WARPS ... of the step's batch, a warp each: h2, the
    # logits, softmax + cross-entropy (the loss and hits added to stats), delta3 into d3, then
    # delta2 into d2
    t = cuda.threadIdx.x
    r = item * WARPS + t // 32
    _logits(r, rows, obufs, layers, scratch)
    if t % 32 == 0:
        _softmax_loss(r, rows, cur, obufs, layers, scratch)
    cuda.syncthreads()
    _delta_2(r, rows, obufs, layers, scratch)
    if t == 0:
        loss, hits = float64(0.0), float64(0.0)
        for w in range(WARPS):
            loss += obufs.row_loss[w]
            hits += obufs.row_hit[w]
        cuda.atomic.add(stats, 0, loss)
        cuda.atomic.add(stats, 1, hits)
    cuda.syncthreads()


@cuda.jit(device=True, inline="always")
def _gather(item, tmp, data, start, rows, scratch, p):
    # row `item` of the step starting at `start` into buffer p of xbuf (2, batch, n0), ybuf;
    # four loads at a time into `tmp` before their stores
    t = cuda.threadIdx.x
    if item < rows:
        x, xbuf = data.x, scratch.xbuf
        src = data.order[start + item]
        n0 = x.shape[1]
        for base in range(0, n0, 4 * THREADS):
            for q in range(4):
                c = base + t + THREADS * q
                tmp[q] = x[src, c] if c < n0 else float32(0.0)
            for q in range(4):
                c = base + t + THREADS * q
                if c < n0:
                    xbuf[p, item, c] = tmp[q]
        if t == 0:
            scratch.ybuf[p, item] = data.y[src]


@cuda.jit(device=True, inline="always")
def _tiles(n):
    # tiles of TILE along a side of n
    return (n + TILE - 1) // TILE


# -- the stages: each block takes items blk, blk + blocks, ... (none where the stage's bit is off)
@cuda.jit(device=True, inline="always")
def _forward_1(items, bufs, rows, cur, layers, scratch):
    # A: p1[s] = x_b @ W1 over the s-th slice of K
    W1, b1 = layers.W[0], layers.b[0]
    xbuf, p1, h1 = scratch.xbuf, scratch.p1, scratch.h1
    for item in range(cuda.blockIdx.x, items, cuda.gridDim.x):
        split_item(item, bufs, Shape(rows, W1.shape[2], W1.shape[1]), p1.shape[0], p1,
                   PLAIN, Operand(xbuf, cur, 1, b1, h1),  # the batch's inputs
                   PLAIN, Operand(W1, 0, 1, b1, h1),
                   h1, False)  # fmt: skip


@cuda.jit(device=True, inline="always")
def _forward_2(items, bufs, rows, layers, scratch):
    # B: p2[s] = h1 @ W2 over the s-th slice of K, its loader summing A's slices (+ bias, ReLU)
    # and keeping h1
    W2, b1, b2 = layers.W[1], layers.b[0], layers.b[1]
    p1, h1, p2 = scratch.p1, scratch.h1, scratch.p2
    n1 = layers.W[0].shape[2]  # (W2.shape[1] is the same number)
    for item in range(cuda.blockIdx.x, items, cuda.gridDim.x):
        split_item(item, bufs, Shape(rows, W2.shape[2], n1), p2.shape[0], p2,
                   RELU_SUM, Operand(p1, 0, p1.shape[0], b1, h1),  # h1 = relu(sum of A's + b1)
                   PLAIN, Operand(W2, 0, 1, b2, h1),
                   h1, True)  # fmt: skip


@cuda.jit(device=True, inline="always")
def _output_layer(items, obufs, rows, cur, layers, scratch, stats):
    # C: a warp per row: h2, the logits, softmax + cross-entropy, delta3, then delta2
    for item in range(cuda.blockIdx.x, items, cuda.gridDim.x):
        _output_item(item, rows, cur, obufs, layers, scratch, stats)


@cuda.jit(device=True, inline="always")
def _delta_1_and_layer_3(on, tm, bufs, red, rows, layers, scratch, settings):
    # D: delta 1's slices; W3's gradient and b3's, applied (C was the last to read W3). tm: the
    # batch's tiles of rows; red: (THREADS, >= 1) shared, for the bias sums
    W2, W3, V3 = layers.W[1], layers.W[2], layers.V[2]
    b1, b3, vb3 = layers.b[0], layers.b[2], layers.vb[2]
    h1, h2, d3, d2, q1 = scratch.h1, scratch.h2, scratch.d3, scratch.d2, scratch.q1
    n1, n2, c, sd = layers.W[0].shape[2], W2.shape[2], W3.shape[2], q1.shape[0]
    n_delta = tm * _tiles(n1) * sd
    n_w3 = _tiles(n2) * _tiles(c)
    n_b3 = (c + 31) // 32
    for item in range(cuda.blockIdx.x, n_delta + n_w3 + n_b3 if on else 0, cuda.gridDim.x):
        if item < n_delta:
            split_item(item, bufs, Shape(rows, n1, n2), sd, q1,
                       PLAIN, Operand(d2, 0, 1, b1, h1),
                       TRANS, Operand(W2, 0, 1, b1, h1),  # W2.T
                       h1, False)  # fmt: skip
        elif item < n_delta + n_w3:
            gradient_item(item - n_delta, bufs, Shape(n2, c, rows), W3, V3, settings,
                          TRANS, Operand(h2, 0, 1, b1, h1),  # h2.T
                          PLAIN, Operand(d3, 0, 1, b1, h1))  # fmt: skip
        else:
            bias_item(item - n_delta - n_w3, red, bufs.av, rows, c, b3, vb3, settings,
                      PLAIN, Operand(d3, 0, 1, b3, h1))  # fmt: skip


@cuda.jit(device=True, inline="always")
def _layers_2_and_1(on, bufs, red, rows, cur, layers, scratch, settings, data, nxt, next_rows,
                    next_items):  # fmt: skip
    # E: W2's and W1's gradients and the biases', applied; then the next step's batch, its
    # `next_rows` rows from row `nxt` of the epoch's order, gathered into the other buffer as
    # `next_items` items (0 after the launch's last step, else the batch size: the next step's
    # labels too). red: (THREADS, >= 1) shared, for the bias sums
    W1, W2, V1, V2 = layers.W[0], layers.W[1], layers.V[0], layers.V[1]
    b1, b2, vb1, vb2 = layers.b[0], layers.b[1], layers.vb[0], layers.vb[1]
    xbuf, h1, d2, q1 = scratch.xbuf, scratch.h1, scratch.d2, scratch.q1
    n0, n1, n2, sd = W1.shape[1], W1.shape[2], W2.shape[2], q1.shape[0]
    n_w2 = _tiles(n1) * _tiles(n2)
    n_b2 = (n2 + 31) // 32
    n_w1 = _tiles(n0) * _tiles(n1)
    n_b1 = (n1 + 31) // 32
    n_grads = n_w2 + n_b2 + n_w1 + n_b1 if on else 0
    for item in range(cuda.blockIdx.x, n_grads + next_items, cuda.gridDim.x):
        if item >= n_grads:
            _gather(item - n_grads, bufs.av, data, nxt, next_rows, scratch, 1 - cur)
        elif item < n_w2:
            gradient_item(item, bufs, Shape(n1, n2, rows), W2, V2, settings,
                          TRANS, Operand(h1, 0, 1, b1, h1),  # h1.T
                          PLAIN, Operand(d2, 0, 1, b1, h1))  # fmt: skip
        elif item < n_w2 + n_b2:
            bias_item(item - n_w2, red, bufs.av, rows, n2, b2, vb2, settings,
                      PLAIN, Operand(d2, 0, 1, b2, h1))  # fmt: skip
        elif item < n_w2 + n_b2 + n_w1:
            gradient_item(item - n_w2 - n_b2, bufs, Shape(n0, n1, rows), W1, V1, settings,
                          TRANS, Operand(xbuf, cur, 1, b1, h1),  # the batch's inputs, transposed
                          MASKED_SUM, Operand(q1, 0, sd, b1, h1))  # delta1  # fmt: skip
        else:
            bias_item(item - n_w2 - n_b2 - n_w1, red, bufs.av, rows, n1, b1, vb1, settings,
                      MASKED_SUM, Operand(q1, 0, sd, b1, h1))  # fmt: skip


# -- the kernel ------------------------------------------------------------------------------------
def _persistent_steps(data, s_first, s_last, batch, layers, scratch, update, stats, stages):
    # Steps s_first .. s_last - 1 of the epoch over the resident data (EpochData) in its order,
    # step s at data.lrs[s]; layers (Layers) updated in place with `update` (Update) and the
    # step's rate; scratch (Scratch) the working arrays; stats (2,) float64: loss sum and hits,
    # added to; stages: the bits of the stages that do their work (Stage, as an int). numba
    # passes a tuple's members as arguments of their own: the groups cost nothing.
    As = cuda.shared.array((TILE, PADDED), float32)
    Bs = cuda.shared.array((TILE, PADDED), float32)
    part = cuda.shared.array((THREADS, MAX_CLASSES), float32)
    dsh = cuda.shared.array((WARPS, MAX_CLASSES), float32)
    row_loss = cuda.shared.array(WARPS, float64)
    row_hit = cuda.shared.array(WARPS, float64)
    acc = cuda.local.array(4, float32)
    av = cuda.local.array(4, float32)
    bv = cuda.local.array(4, float32)
    logit = cuda.local.array(MAX_CLASSES, float32)
    hv = cuda.local.array(COLUMNS_AT_ONCE, float32)
    bufs = TileBuffers(As, Bs, acc, av, bv)  # for the products
    obufs = OutputBuffers(part, dsh, row_loss, row_hit, logit, hv)  # for the output layer
    grid = cuda.cg.this_grid()
    blk, blocks = cuda.blockIdx.x, cuda.gridDim.x
    n = data.order.shape[0]
    n1, n2 = layers.W[0].shape[2], layers.W[1].shape[2]
    s1, s2 = scratch.p1.shape[0], scratch.p2.shape[0]
    tn1, tn2 = _tiles(n1), _tiles(n2)

    start = s_first * batch  # the first step's batch
    for item in range(blk, batch, blocks):
        _gather(item, av, data, start, min(batch, n - start), scratch, s_first % 2)
    grid.sync()
    for s in range(s_first, s_last):
        cur = s % 2
        start = s * batch
        rows = min(batch, n - start)
        tm = _tiles(rows)
        settings = Sgd(data.lrs[s], update.momentum, update.decay, update.nesterov)  # this step's
        _forward_1(tm * tn1 * s1 if stages & _A else 0, bufs, rows, cur, layers, scratch)
        grid.sync()
        _forward_2(tm * tn2 * s2 if stages & _B else 0, bufs, rows, layers, scratch)
        grid.sync()
        _output_layer((rows + WARPS - 1) // WARPS if stages & _C else 0, obufs, rows, cur, layers,
                      scratch, stats)  # fmt: skip
        grid.sync()
        _delta_1_and_layer_3(stages & _D, tm, bufs, part, rows, layers, scratch, settings)
        grid.sync()
        nxt = (s + 1) * batch
        next_items = 0 if s + 1 == s_last else batch  # (always: it is the next step's labels too)
        _layers_2_and_1(stages & _E, bufs, part, rows, cur, layers, scratch, settings, data, nxt,
                        min(batch, n - nxt), next_items)  # fmt: skip
        grid.sync()


@functools.cache
def steps_kernel(max_registers: int | None = MAX_REGISTERS):
    """The persistent kernel, compiled for at most `max_registers` registers a thread (None: as
    many as the compiler likes, 255 here). Everything the kernel touches stays live across its
    loop (the shapes and strides of 30 arrays among it), so the compiler's choice is 255, one
    block of 256 threads a multiprocessor; a cap trades a few spills for more resident blocks.
    numba's on-disk cache cannot keep a kernel linked with the cooperative-groups runtime, so
    it is compiled once per process (about a minute on the H200's host, in compile_seconds).
    The simulator takes no register option."""
    if simulated() or max_registers is None:
        return cuda.jit(_persistent_steps)
    return cuda.jit(max_registers=max_registers)(_persistent_steps)
