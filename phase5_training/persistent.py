"""The step as one persistent kernel: every step of an epoch inside a single cooperative launch,
its stages separated by grid-wide barriers instead of kernel boundaries (numba.cuda, float32).

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

Measured on an H200 it is 2.1x slower than gpu.py's graph (232 against 108 us a step; the
README's "One kernel for the whole epoch" has the breakdown by stage and why), so the graph is
the default and this is `--step persistent`: the lesson of what one kernel for everything costs,
and the starting point for the next attempt.
"""

from __future__ import annotations

import functools
import math
import time
from enum import IntEnum, IntFlag
from typing import NamedTuple

import numpy as np
from numba import cuda, float32, float64

from phase2_numpy.network import Params
from phase2_numpy.train import TrainConfig
from phase4_cuda.device import simulated
from phase5_training.gpu import GpuTrainer
from phase5_training.gpu_kernels import MAX_CLASSES

__all__ = ["SPLITS", "Loader", "PersistentTrainer", "Stage", "steps_kernel"]

THREADS = 256
T = 32  # a tile: T x T outputs per item, T deep per step of K
_TP = T + 1  # shared tiles are padded by a column: a column read touches 32 banks
_WARPS = THREADS // 32  # rows per item of stage C: a warp each
_CH = 8  # stage C: a lane's columns handled at a time (all loads in flight, then the stores)
#: slices of K for the three split products (forward 1, forward 2, delta 1): each item's chain
#: of loads is ceil(K / T / slices) steps long
SPLITS = (8, 4, 4)
#: registers a thread may use (steps_kernel)
MAX_REGISTERS = 128


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


class Loader(IntEnum):
    """How a loader forms an operand's element (r, c) from its source array `src` (3-d: parts,
    rows, columns); the plain kinds read part p0."""

    #: src[p0, r, c]
    PLAIN = 0
    #: src[p0, c, r]: the operand is the transpose of what is stored
    TRANS = 1
    #: relu(sum over parts of src[p, r, c] + vec[c]): split-K slices, bias, ReLU
    RELU_SUM = 2
    #: sum over parts of src[p, r, c], where mat[0, r, c] > 0, else 0: ReLU's gradient
    MASKED_SUM = 3


# The kernel reads the enums' values through these plain ints: numba types an int global as a
# literal constant, but an enum member as a member of its enum, and the kernel compiled from that
# is another (with Loader's members in it, its PTX grew by 70 lines).
_PLAIN, _TRANS, _RELU_SUM, _MASKED_SUM = map(int, (Loader.PLAIN, Loader.TRANS, Loader.RELU_SUM,
                                                   Loader.MASKED_SUM))  # fmt: skip
_A, _B, _C, _D, _E = map(int, (Stage.A, Stage.B, Stage.C, Stage.D, Stage.E))


# An operand, as the device functions pass it: its Loader kind, then one tuple (src, p0, parts,
# vec, mat): the 3-d source, the part the plain kinds read, the parts the sums add, the bias
# (RELU_SUM) and the mask (MASKED_SUM); vec and mat are any array where the kind reads none. The
# kind stays an argument of its own: inside the tuple it would not be a literal to numba, and the
# PTX would grow as with the enums. `bufs` is (As, Bs, acc, av, bv): a block's two shared tiles
# and the thread's four-register arrays, and `sgd` (lr, momentum, decay, nesterov): see _sgd.


@cuda.jit(device=True, inline="always")
def _element(kind, operand, r, c):
    src, p0, parts, vec, mat = operand
    if kind == _PLAIN:
        return src[p0, r, c]
    if kind == _TRANS:
        return src[p0, c, r]
    v = float32(0.0)
    for p in range(parts):
        v += src[p, r, c]
    if kind == _RELU_SUM:
        v += vec[c]
        return v if v > float32(0.0) else float32(0.0)
    return v if mat[0, r, c] > float32(0.0) else float32(0.0)


@cuda.jit(device=True, inline="always")
def _place(kind, flat):
    # where element `flat` of a tile's 1024 goes: (row, column) of the tile, chosen so that a
    # warp's 32 loads are neighbours in memory (along the rows as stored: a transposed operand's
    # rows are the tile's columns)
    if kind == _TRANS:
        return flat % T, flat // T
    return flat // T, flat % T


@cuda.jit(device=True, inline="always")
def _load_tiles(av, bv, m, n, k1, ti, tj, kb, a_kind, a, b_kind, b):
    # this thread's four elements of A's tile and four of B's at step kb of K, into registers.
    # Only loads: no store comes between them, so all are in flight at once (a store to memory
    # that might alias the next load would make each wait for the one before).
    t = cuda.threadIdx.x
    for q in range(4):
        r, c = _place(a_kind, t + THREADS * q)
        gi, gk = ti * T + r, kb + c
        v = float32(0.0)
        if gi < m and gk < k1:
            v = _element(a_kind, a, gi, gk)
        av[q] = v
        r, c = _place(b_kind, t + THREADS * q)
        gk, gj = kb + r, tj * T + c
        v = float32(0.0)
        if gk < k1 and gj < n:
            v = _element(b_kind, b, gk, gj)
        bv[q] = v


@cuda.jit(device=True, inline="always")
def _tile(bufs, m, n, k0, k1, ti, tj, a_kind, a, b_kind, b, keep, keep_on):
    # acc[q] = sum over kk in [k0, k1) of A[i, kk] B[kk, j] for this thread's four outputs of
    # the (ti, tj) tile: i = ti T + t // 8, j = tj T + t % 8 + 8 q. A is m x K, B is K x n, each
    # formed from its operand by its loader kind. With keep_on, A's elements are also written to
    # keep[0, i, kk].
    # The next step's loads are issued before this step's arithmetic (av, bv: 4 registers
    # each), so their latency hides behind it.
    As, Bs, acc, av, bv = bufs
    t = cuda.threadIdx.x
    for q in range(4):
        acc[q] = float32(0.0)
    row, col = t // 8, t % 8
    if k0 < k1:
        _load_tiles(av, bv, m, n, k1, ti, tj, k0, a_kind, a, b_kind, b)
    for kb in range(k0, k1, T):
        for q in range(4):
            r, c = _place(a_kind, t + THREADS * q)
            As[r, c] = av[q]
            if keep_on and ti * T + r < m and kb + c < k1:
                keep[0, ti * T + r, kb + c] = av[q]
            r, c = _place(b_kind, t + THREADS * q)
            Bs[r, c] = bv[q]
        cuda.syncthreads()
        if kb + T < k1:
            _load_tiles(av, bv, m, n, k1, ti, tj, kb + T, a_kind, a, b_kind, b)
        for kk in range(T):
            x = As[row, kk]
            for q in range(4):
                acc[q] += x * Bs[kk, col + 8 * q]
        cuda.syncthreads()


@cuda.jit(device=True, inline="always")
def _sgd(value, velocity, g, sgd):
    # phase2_numpy.train.sgd_update for one element (g already holds any weight decay):
    # returns the new value and velocity; sgd: (lr, momentum, decay, nesterov)
    lr, momentum, _, nesterov = sgd
    v = momentum * velocity + g
    return value - lr * (g + momentum * v if nesterov else v), v


@cuda.jit(device=True, inline="always")
def _split_item(item, bufs, m, n, k, splits, out, a_kind, a, b_kind, b, keep, keep_on):
    # one item of a split-K product: out[s, i, j] = the s-th slice of K's share of (A B)[i, j]
    # (zeros where the slice is empty, so that the reader's sum is right)
    s = item % splits
    tile = item // splits
    tiles_n = (n + T - 1) // T
    ti, tj = tile // tiles_n, tile % tiles_n
    per = ((k + T - 1) // T + splits - 1) // splits * T
    k0 = s * per
    k1 = min(k, k0 + per)
    _tile(bufs, m, n, k0, k1, ti, tj, a_kind, a, b_kind, b, keep, keep_on and tj == 0)
    acc = bufs[2]
    t = cuda.threadIdx.x
    i = ti * T + t // 8
    for q in range(4):
        j = tj * T + t % 8 + 8 * q
        if i < m and j < n:
            out[s, i, j] = acc[q]


@cuda.jit(device=True, inline="always")
def _gradient_item(item, bufs, m, n, k, W, V, sgd, a_kind, a, b_kind, b):
    # one tile of a weight gradient dW = A B (K whole), applied at once: W, V (1, m, n) updated
    # in place
    tiles_n = (n + T - 1) // T
    ti, tj = item // tiles_n, item % tiles_n
    _tile(bufs, m, n, 0, k, ti, tj, a_kind, a, b_kind, b, b[4], False)  # keeps nothing
    _, _, acc, av, bv = bufs
    t = cuda.threadIdx.x
    i = ti * T + t // 8
    for q in range(4):  # the loads first (av, bv are free now), then the stores
        j = tj * T + t % 8 + 8 * q
        if i < m and j < n:
            av[q] = W[0, i, j]
            bv[q] = V[0, i, j]
    for q in range(4):
        j = tj * T + t % 8 + 8 * q
        if i < m and j < n:
            w = av[q]
            W[0, i, j], V[0, i, j] = _sgd(w, bv[q], acc[q] + sgd[2] * w, sgd)


@cuda.jit(device=True, inline="always")
def _bias_item(item, red, tmp, rows, n, bias, vbias, sgd, kind, delta):
    # 32 columns of a bias gradient, the column sums of the operand `delta` (as the weight
    # gradient's B operand), applied at once. Eight groups of rows, then a fixed-order sum; each
    # thread's loads four at a time into `tmp` (4 registers), all in flight together.
    t = cuda.threadIdx.x
    group, lane = t // 32, t % 32
    j = item * 32 + lane
    s = float32(0.0)
    if j < n:
        for base in range(group, rows, 4 * _WARPS):
            for q in range(4):
                r = base + _WARPS * q
                tmp[q] = _element(kind, delta, r, j) if r < rows else 0.0
            for q in range(4):
                s += tmp[q]
    red[t, 0] = s
    cuda.syncthreads()
    if group == 0 and j < n:
        total = float32(0.0)
        for g in range(_WARPS):
            total += red[g * 32 + lane, 0]
        bias[j], vbias[j] = _sgd(bias[j], vbias[j], total, sgd)
    cuda.syncthreads()


@cuda.jit(device=True, inline="always")
def _gather(item, tmp, x, y, order, start, rows, xbuf, ybuf, p):
    # row `item` of the step starting at `start` into buffer p of xbuf (2, batch, n0), ybuf;
    # four loads at a time into `tmp` before their stores
    t = cuda.threadIdx.x
    if item < rows:
        src = order[start + item]
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
            ybuf[p, item] = y[src]


@cuda.jit(device=True, inline="always")
def _output_item(item, t, warp, lane, rows, cur, obufs, n2, c, s2, p2, b2, W3, b3, h2, d3, d2,
                 ybuf, stats):  # fmt: skip
    # one item of stage C, rows item * _WARPS ... of the step's batch, a warp each: h2 = relu(sum
    # of p2's slices + b2), the logits, softmax + cross-entropy (the loss and hits added to
    # stats), delta3 into d3, then delta2 = (delta3 @ W3.T) * (h2 > 0) into d2. obufs: (part,
    # dsh, row_loss, row_hit, logit, hv), the block's shared sums and the thread's registers
    part, dsh, row_loss, row_hit, logit, hv = obufs
    r = item * _WARPS + warp
    for j in range(MAX_CLASSES):
        logit[j] = float32(0.0)
    if r < rows:  # the lane's columns kk = lane + 32 q, _CH at a time: loads, then stores
        for base in range(0, n2, 32 * _CH):
            for q in range(_CH):
                kk = base + lane + 32 * q
                v = float32(0.0)
                if kk < n2:
                    v = b2[kk]
                    for p in range(s2):
                        v += p2[p, r, kk]
                hv[q] = v if v > float32(0.0) else float32(0.0)
            for q in range(_CH):
                kk = base + lane + 32 * q
                if kk < n2:
                    for j in range(MAX_CLASSES):
                        if j < c:
                            logit[j] += hv[q] * W3[0, kk, j]
            for q in range(_CH):
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
    if lane == 0:
        row_loss[warp] = 0.0
        row_hit[warp] = 0.0
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
            label = ybuf[cur, r]
            scale = float32(1.0) / float32(rows)
            for j in range(c):
                p = math.exp(part[first, j] + b3[j] - top) / total
                g = (p - float32(1.0 if j == label else 0.0)) * scale
                d3[0, r, j] = g
                dsh[warp, j] = g
            row_loss[warp] = float64(math.log(total) + top - (part[first, label] + b3[label]))
            row_hit[warp] = 1.0 if arg == label else 0.0
    cuda.syncthreads()
    if r < rows:
        for base in range(0, n2, 32 * _CH):
            for q in range(_CH):
                kk = base + lane + 32 * q
                v = float32(0.0)
                if kk < n2 and h2[0, r, kk] > float32(0.0):  # its own write above
                    for j in range(c):
                        v += dsh[warp, j] * W3[0, kk, j]
                hv[q] = v
            for q in range(_CH):
                kk = base + lane + 32 * q
                if kk < n2:
                    d2[0, r, kk] = hv[q]
    if t == 0:
        loss, hits = float64(0.0), float64(0.0)
        for w in range(_WARPS):
            loss += row_loss[w]
            hits += row_hit[w]
        cuda.atomic.add(stats, 0, loss)
        cuda.atomic.add(stats, 1, hits)
    cuda.syncthreads()


def _persistent_steps(x, y, order, lrs,  # _EpochData
                      s_first, s_last, batch,
                      W1, W2, W3, b1, b2, b3, V1, V2, V3, vb1, vb2, vb3,  # _Layers
                      xbuf, ybuf, p1, h1, p2, h2, d3, d2, q1,  # _Scratch
                      momentum, decay, nesterov, stats, stages):  # fmt: skip
    # Steps s_first .. s_last - 1 of the epoch over the resident x (n, n0), y (n,) in `order`,
    # step s at lrs[s]. W*, V* (1, k, n) weights and velocities, b*, vb* (n,) biases and theirs.
    # Every matrix is 3-d (parts, rows, columns), so that one loader reads them all (and no
    # reshape runs in the kernel). Scratch: xbuf (2, batch, n0) and ybuf (2, batch) the batches,
    # double-buffered; p1 (S1, batch, n1), p2 (S2, batch, n2), q1 (Sd, batch, n1) split-K slices;
    # h1 (1, batch, n1), h2 (1, batch, n2), d3 (1, batch, c), d2 (1, batch, n2). stats (2,)
    # float64: loss sum and hits, added to. stages: the bits of the stages that do their work
    # (Stage, as an int). The host keeps these in the groups named above and flattens them in
    # one place, PersistentTrainer._kernel_args.
    As = cuda.shared.array((T, _TP), float32)
    Bs = cuda.shared.array((T, _TP), float32)
    part = cuda.shared.array((THREADS, MAX_CLASSES), float32)
    dsh = cuda.shared.array((_WARPS, MAX_CLASSES), float32)
    row_loss = cuda.shared.array(_WARPS, float64)
    row_hit = cuda.shared.array(_WARPS, float64)
    acc = cuda.local.array(4, float32)
    av = cuda.local.array(4, float32)
    bv = cuda.local.array(4, float32)
    logit = cuda.local.array(MAX_CLASSES, float32)
    hv = cuda.local.array(_CH, float32)
    bufs = (As, Bs, acc, av, bv)  # the block's tiles, the thread's registers: for products
    obufs = (part, dsh, row_loss, row_hit, logit, hv)  # the same for the output layer
    grid = cuda.cg.this_grid()
    t = cuda.threadIdx.x
    blk, blocks = cuda.blockIdx.x, cuda.gridDim.x
    warp, lane = t // 32, t % 32
    n = order.shape[0]
    n0, n1, n2, c = W1.shape[1], W1.shape[2], W2.shape[2], W3.shape[2]
    s1, s2, sd = p1.shape[0], p2.shape[0], q1.shape[0]
    tn1, tn2 = (n1 + T - 1) // T, (n2 + T - 1) // T

    start = s_first * batch  # the first step's batch
    for item in range(blk, batch, blocks):
        _gather(item, av, x, y, order, start, min(batch, n - start), xbuf, ybuf, s_first % 2)
    grid.sync()
    for s in range(s_first, s_last):
        cur = s % 2
        start = s * batch
        rows = min(batch, n - start)
        tm = (rows + T - 1) // T
        sgd = (lrs[s], momentum, decay, nesterov)  # this step's update: see _sgd

        # A: forward 1, slices of K
        for item in range(blk, tm * tn1 * s1 if stages & _A else 0, blocks):
            _split_item(item, bufs, rows, n1, n0, s1, p1,
                        _PLAIN, (xbuf, cur, 1, b1, h1),  # the batch's inputs
                        _PLAIN, (W1, 0, 1, b1, h1),
                        h1, False)  # fmt: skip
        grid.sync()

        # B: forward 2, its loader summing A's slices (+ bias, ReLU) and keeping h1
        for item in range(blk, tm * tn2 * s2 if stages & _B else 0, blocks):
            _split_item(item, bufs, rows, n2, n1, s2, p2,
                        _RELU_SUM, (p1, 0, s1, b1, h1),  # h1 = relu(sum of A's slices + b1)
                        _PLAIN, (W2, 0, 1, b2, h1),
                        h1, True)  # fmt: skip
        grid.sync()

        # C: a warp per row: h2, the logits, softmax + cross-entropy, delta3, then delta2
        for item in range(blk, (rows + _WARPS - 1) // _WARPS if stages & _C else 0, blocks):
            _output_item(item, t, warp, lane, rows, cur, obufs, n2, c, s2, p2, b2, W3, b3, h2, d3,
                         d2, ybuf, stats)  # fmt: skip
        grid.sync()

        # D: delta 1's slices; W3's gradient and b3's, applied (C was the last to read W3)
        n_delta = tm * tn1 * sd
        n_w3 = ((n2 + T - 1) // T) * ((c + T - 1) // T)
        n_b3 = (c + 31) // 32
        for item in range(blk, n_delta + n_w3 + n_b3 if stages & _D else 0, blocks):
            if item < n_delta:
                _split_item(item, bufs, rows, n1, n2, sd, q1,
                            _PLAIN, (d2, 0, 1, b1, h1),
                            _TRANS, (W2, 0, 1, b1, h1),  # W2.T
                            h1, False)  # fmt: skip
            elif item < n_delta + n_w3:
                _gradient_item(item - n_delta, bufs, n2, c, rows, W3, V3, sgd,
                               _TRANS, (h2, 0, 1, b1, h1),  # h2.T
                               _PLAIN, (d3, 0, 1, b1, h1))  # fmt: skip
            else:
                _bias_item(item - n_delta - n_w3, part, av, rows, c, b3, vb3, sgd,
                           _PLAIN, (d3, 0, 1, b3, h1))  # fmt: skip
        grid.sync()

        # E: W2's and W1's gradients and the biases', applied; the next step's batch gathered
        n_w2 = ((n1 + T - 1) // T) * tn2
        n_b2 = (n2 + 31) // 32
        n_w1 = ((n0 + T - 1) // T) * tn1
        n_b1 = (n1 + 31) // 32
        last = s + 1 == s_last
        nxt = (s + 1) * batch
        n_grads = n_w2 + n_b2 + n_w1 + n_b1 if stages & _E else 0
        n_gather = 0 if last else batch  # (always: it is the next step's labels too)
        for item in range(blk, n_grads + n_gather, blocks):
            if item >= n_grads:
                _gather(item - n_grads, av, x, y, order, nxt, min(batch, n - nxt),
                        xbuf, ybuf, 1 - cur)  # fmt: skip
            elif item < n_w2:
                _gradient_item(item, bufs, n1, n2, rows, W2, V2, sgd,
                               _TRANS, (h1, 0, 1, b1, h1),  # h1.T
                               _PLAIN, (d2, 0, 1, b1, h1))  # fmt: skip
            elif item < n_w2 + n_b2:
                _bias_item(item - n_w2, part, av, rows, n2, b2, vb2, sgd,
                           _PLAIN, (d2, 0, 1, b2, h1))  # fmt: skip
            elif item < n_w2 + n_b2 + n_w1:
                _gradient_item(item - n_w2 - n_b2, bufs, n0, n1, rows, W1, V1, sgd,
                               _TRANS, (xbuf, cur, 1, b1, h1),  # the batch's inputs, transposed
                               _MASKED_SUM, (q1, 0, sd, b1, h1))  # delta1  # fmt: skip
            else:
                _bias_item(item - n_w2 - n_b2 - n_w1, part, av, rows, n1, b1, vb1, sgd,
                           _MASKED_SUM, (q1, 0, sd, b1, h1))  # fmt: skip
        grid.sync()


class _EpochData(NamedTuple):
    """What a launch trains on, on the device: x (n, n0) float32, y (n,) int32 labels, the
    epoch's order (n,) int32 of rows, and its steps' learning rates (steps,) float32."""

    x: object
    y: object
    order: object
    lrs: object


class _Layers(NamedTuple):
    """The parameters as the kernel reads them, views of GpuTrainer's flat buffers: weights and
    their velocities 3-d, (1, n_in, n_out) each; biases and theirs 1-d."""

    W: tuple
    b: tuple
    V: tuple
    vb: tuple


class _Scratch(NamedTuple):
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
    def allocate(cls, widths, batch: int, splits: tuple[int, int, int], stream) -> _Scratch:
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


class PersistentTrainer(GpuTrainer):
    """The Trainer contract of trainer.py with each epoch one launch of the persistent kernel (or
    a few: `steps_per_launch`). Parameters, evaluation and checkpoints are GpuTrainer's: the same
    flat buffers, the same forward pass for `logits`."""

    def __init__(
        self,
        params: Params,
        config: TrainConfig,
        precision: str = "fp32",
        splits: tuple[int, int, int] = SPLITS,
        blocks: int | None = None,
        steps_per_launch: int = 0,
        max_registers: int | None = MAX_REGISTERS,
    ) -> None:
        """`splits`: slices of K for forward 1, forward 2 and delta 1. `blocks`: the grid (default:
        as many as can be resident at once). `steps_per_launch`: 0 for a whole epoch in one
        launch, else at most that many steps a launch (the progress bar then moves).
        `max_registers`: see steps_kernel."""
        if precision != "fp32":
            raise ValueError(
                f"the persistent step computes in fp32 on the CUDA cores; for {precision} use "
                "the graph step (--step graph)"
            )
        if len(params.W) != 3:
            raise ValueError(
                "the persistent step is written for networks of two hidden layers (such as "
                f"784-512-256-10); got {len(params.W) - 1}: use the graph step (--step graph)"
            )
        if min(splits) < 1:
            raise ValueError(f"splits of K must be >= 1, got {splits}")
        super().__init__(params, config, use_graphs=False, precision="fp32")
        self.steps_per_launch = steps_per_launch
        self._scratch = _Scratch.allocate(self.widths, config.batch_size, splits, self.stream)
        velocities = self._views(self.V)
        self._layers = _Layers(
            W=tuple(w.reshape(1, *w.shape) for w in self.W), b=tuple(self.biases),
            V=tuple(v.reshape(1, *v.shape) for v in velocities[:3]), vb=tuple(velocities[3:]),
        )  # fmt: skip
        self._requested_blocks = blocks
        self.kernel = steps_kernel(max_registers)
        self.stages = Stage.ALL  # tune_step leaves stages out to time the others
        self.blocks = 0  # set at the first launch, once the kernel is compiled

    def _kernel_args(self, data: _EpochData, s_first: int, s_last: int) -> tuple:
        """The kernel's arguments, steps s_first .. s_last - 1 over `data`, in its order: the
        only place the groups are flattened (a kernel takes arrays and numbers)."""
        cfg, layers = self.config, self._layers
        return (
            *data, s_first, s_last, cfg.batch_size,
            *layers.W, *layers.b, *layers.V, *layers.vb, *self._scratch,
            np.float32(cfg.momentum), np.float32(cfg.weight_decay), cfg.nesterov, self.stats,
            int(self.stages),  # a plain number: the kernel was compiled for one
        )  # fmt: skip

    def _grid(self, data: _EpochData) -> int:
        """The grid: every block resident at once, as a cooperative launch requires. The first
        call compiles the kernel with an empty launch (numba cannot cache it: steps_kernel)."""
        if self.blocks:
            return self.blocks
        t0 = time.perf_counter()
        self.kernel[1, THREADS, self.stream](*self._kernel_args(data, 0, 0))  # no steps
        self.stream.synchronize()
        self.compile_seconds += time.perf_counter() - t0
        if simulated():
            most = 1  # the simulator runs cooperative grids of one block
        else:
            kernel = next(iter(self.kernel.overloads.values()))
            most = kernel.max_cooperative_grid_blocks(THREADS)
        want = self._requested_blocks or most
        if not 1 <= want <= most:
            raise ValueError(
                f"a cooperative grid of {want} blocks cannot be resident at once: at most {most}"
            )
        self.blocks = want
        return want

    def _run(self, data: _EpochData, steps: int, bar=None) -> None:
        blocks = self._grid(data)
        chunk = self.steps_per_launch or steps
        for first in range(0, steps, chunk):
            last = min(steps, first + chunk)
            self.kernel[blocks, THREADS, self.stream](*self._kernel_args(data, first, last))
            if bar is not None:
                bar.update(last - first)

    def step(self, x: np.ndarray, y: np.ndarray, lr: float) -> tuple[float, int]:
        """One step on a host batch: the batch is uploaded as a one-step data set."""
        rows = len(y)
        if rows > self.config.batch_size:
            raise ValueError(
                f"a batch of {rows} rows is larger than the batch size {self.config.batch_size}"
            )
        s = self.stream
        xs = cuda.to_device(np.ascontiguousarray(x, np.float32), stream=s)
        ys = cuda.to_device(np.ascontiguousarray(y, np.int32), stream=s)
        order = cuda.to_device(np.arange(rows, dtype=np.int32), stream=s)
        lrs = cuda.to_device(np.array([lr], np.float32), stream=s)
        self._run(_EpochData(xs, ys, order, lrs), 1)
        loss_sum, correct = self._read_stats()
        return loss_sum / rows, correct

    def run_epoch(
        self, order: np.ndarray, lrs: list[float], bar=None, meanwhile=None
    ) -> tuple[float, int]:
        """All steps of an epoch in one launch (or `steps_per_launch` at a time), `meanwhile()`
        on the host after the last launch (see trainer.py)."""
        steps = self._upload_epoch(order, lrs)
        self._run(_EpochData(self.x, self.y, self.order, self.lrs), steps, bar)
        if meanwhile is not None:
            meanwhile()
        loss_sum, correct = self._read_stats()
        if bar is not None:
            bar.set_postfix(loss=loss_sum / len(order), acc=correct / len(order))
        return loss_sum, correct
