"""The tiled product inside the persistent kernel (persistent_kernel.py), and the three kinds of
work item built on it: a slice of K of a split product, a tile of a weight gradient applied at
once, and 32 columns of a bias gradient applied at once (numba.cuda device functions, float32).

Every product of the step reads its operands through a *loader* (`Loader`): a plain or
transposed read, or a read that forms its value as it goes (split-K slices summed, bias and ReLU
added, ReLU's gradient applied), so no stage of the step needs a pass of its own to prepare
another's input. What is left out: anything but 32 x 32 tiles of float32 on the CUDA cores.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

from numba import cuda, float32

__all__ = [
    "THREADS", "TILE", "WARPS", "Loader", "Operand", "Sgd", "Shape", "TileBuffers", "bias_item",
    "gradient_item", "split_item",
]  # fmt: skip

THREADS = 256  # threads of a block
TILE = 32  # a tile: TILE x TILE outputs per item, TILE deep per step of K
PADDED = TILE + 1  # shared tiles are padded by a column: a column read touches 32 banks
WARPS = THREADS // 32  # warps of a block (rows per item of stage C: a warp each)


class Loader(IntEnum):
    """How a loader forms an operand's element (r, c) from its source array `src` (3-d: parts,
    rows, columns); the plain kinds read part `part` (see Operand)."""

    #: src[part, r, c]
    PLAIN = 0
    #: src[part, c, r]: the operand is the transpose of what is stored
    TRANS = 1
    #: relu(sum over parts of src[p, r, c] + bias[c]): split-K slices, bias, ReLU
    RELU_SUM = 2
    #: sum over parts of src[p, r, c], where mask[0, r, c] > 0, else 0: ReLU's gradient
    MASKED_SUM = 3


# The kernel reads the enum's values through these plain ints: numba types an int global as a
# literal constant, but an enum member as a member of its enum, and the kernel compiled from that
# is another (with Loader's members in it, its PTX grew by 70 lines).
PLAIN, TRANS, RELU_SUM, MASKED_SUM = map(int, (Loader.PLAIN, Loader.TRANS, Loader.RELU_SUM,
                                               Loader.MASKED_SUM))  # fmt: skip


class Operand(NamedTuple):
    """An operand as the device functions pass it, beside its Loader kind. The kind stays an
    argument of its own: inside the tuple it would not be a literal to numba, and the PTX would
    grow as with the enum. `bias` and `mask` are any array where the kind reads none."""

    src: object  # the 3-d source (parts, rows, columns)
    part: int  # the part the plain kinds read
    parts: int  # the parts the sums add
    bias: object  # (columns,): RELU_SUM's bias
    mask: object  # (1, rows, columns): MASKED_SUM's mask


class Shape(NamedTuple):
    """A product's sizes: the output (m, n) = A (m, k) @ B (k, n)."""

    m: int
    n: int
    k: int


class TileBuffers(NamedTuple):
    """What a product works in: the block's two shared tiles and the thread's registers."""

    As: object  # (TILE, PADDED) shared: A's tile at this step of K
    Bs: object  # (TILE, PADDED) shared: B's tile
    acc: object  # (4,) the thread's four sums
    av: object  # (4,) the thread's four loads of A's next tile (also scratch between products)
    bv: object  # (4,) the same for B


class Sgd(NamedTuple):
    """A step's update, phase2_numpy.train.sgd_update's settings."""

    lr: float
    momentum: float
    decay: float
    nesterov: bool


@cuda.jit(device=True, inline="always")
def _element(kind, operand, r, c):
    # element (r, c) of `operand` (Operand) as its loader `kind` forms it
    if kind == PLAIN:
        return operand.src[operand.part, r, c]
    if kind == TRANS:
        return operand.src[operand.part, c, r]
    v = float32(0.0)
    for p in range(operand.parts):
        v += operand.src[p, r, c]
    if kind == RELU_SUM:
        v += operand.bias[c]
        return v if v > float32(0.0) else float32(0.0)
    return v if operand.mask[0, r, c] > float32(0.0) else float32(0.0)


@cuda.jit(device=True, inline="always")
def _place(kind, flat):
    # where element `flat` of a tile's 1024 goes: (row, column) of the tile, chosen so that a
    # warp's 32 loads are neighbours in memory (along the rows as stored: a transposed operand's
    # rows are the tile's columns)
    if kind == TRANS:
        return flat % TILE, flat // TILE
    return flat // TILE, flat % TILE


@cuda.jit(device=True, inline="always")
def _load_tiles(bufs, shape, k1, ti, tj, kb, a_kind, a, b_kind, b):
    # this thread's four elements of A's tile and four of B's at step kb of K, into registers.
    # Only loads: no store comes between them, so all are in flight at once (a store to memory
    # that might alias the next load would make each wait for the one before).
    t = cuda.threadIdx.x
    for q in range(4):
        r, c = _place(a_kind, t + THREADS * q)
        gi, gk = ti * TILE + r, kb + c
        v = float32(0.0)
        if gi < shape.m and gk < k1:
            v = _element(a_kind, a, gi, gk)
        bufs.av[q] = v
        r, c = _place(b_kind, t + THREADS * q)
        gk, gj = kb + r, tj * TILE + c
        v = float32(0.0)
        if gk < k1 and gj < shape.n:
            v = _element(b_kind, b, gk, gj)
        bufs.bv[q] = v


@cuda.jit(device=True, inline="always")
def _tile(bufs, shape, k0, k1, ti, tj, a_kind, a, b_kind, b, keep, keep_on):
    # acc[q] = sum over kk in [k0, k1) of A[i, kk] B[kk, j] for this thread's four outputs of
    # the (ti, tj) tile: i = ti TILE + t // 8, j = tj TILE + t % 8 + 8 q. A is m x K, B is K x n,
    # each formed from its operand by its loader kind. With keep_on, A's elements are also
    # written to keep[0, i, kk].
    # The next step's loads are issued before this step's arithmetic (av, bv: 4 registers
    # each), so their latency hides behind it.
    t = cuda.threadIdx.x
    for q in range(4):
        bufs.acc[q] = float32(0.0)
    row, col = t // 8, t % 8
    if k0 < k1:
        _load_tiles(bufs, shape, k1, ti, tj, k0, a_kind, a, b_kind, b)
    for kb in range(k0, k1, TILE):
        for q in range(4):
            r, c = _place(a_kind, t + THREADS * q)
            bufs.As[r, c] = bufs.av[q]
            if keep_on and ti * TILE + r < shape.m and kb + c < k1:
                keep[0, ti * TILE + r, kb + c] = bufs.av[q]
            r, c = _place(b_kind, t + THREADS * q)
            bufs.Bs[r, c] = bufs.bv[q]
        cuda.syncthreads()
        if kb + TILE < k1:
            _load_tiles(bufs, shape, k1, ti, tj, kb + TILE, a_kind, a, b_kind, b)
        for kk in range(TILE):
            x = bufs.As[row, kk]
            for q in range(4):
                bufs.acc[q] += x * bufs.Bs[kk, col + 8 * q]
        cuda.syncthreads()


@cuda.jit(device=True, inline="always")
def _sgd(value, velocity, g, settings):
    # phase2_numpy.train.sgd_update for one element (g already holds any weight decay): returns
    # the new value and velocity; settings: Sgd
    v = settings.momentum * velocity + g
    return value - settings.lr * (g + settings.momentum * v if settings.nesterov else v), v


@cuda.jit(device=True, inline="always")
def split_item(item, bufs, shape, splits, out, a_kind, a, b_kind, b, keep, keep_on):
    """One item of a split-K product: out[s, i, j] = the s-th slice of K's share of (A B)[i, j]
    (zeros where the slice is empty, so that the reader's sum is right). With keep_on, A's
    elements are also written to keep (by the items of the first column of tiles)."""
    s = item % splits
    tile = item // splits
    tiles_n = (shape.n + TILE - 1) // TILE
    ti, tj = tile // tiles_n, tile % tiles_n
    per = ((shape.k + TILE - 1) // TILE + splits - 1) // splits * TILE
    k0 = s * per
    k1 = min(shape.k, k0 + per)
    _tile(bufs, shape, k0, k1, ti, tj, a_kind, a, b_kind, b, keep, keep_on and tj == 0)
    t = cuda.threadIdx.x
    i = ti * TILE + t // 8
    for q in range(4):
        j = tj * TILE + t % 8 + 8 * q
        if i < shape.m and j < shape.n:
            out[s, i, j] = bufs.acc[q]


@cuda.jit(device=True, inline="always")
def gradient_item(item, bufs, shape, W, V, settings, a_kind, a, b_kind, b):
    """One tile of a weight gradient dW = A B (K whole), applied at once: W, V (1, m, n) updated
    in place (settings: Sgd)."""
    tiles_n = (shape.n + TILE - 1) // TILE
    ti, tj = item // tiles_n, item % tiles_n
    _tile(bufs, shape, 0, shape.k, ti, tj, a_kind, a, b_kind, b, b.mask, False)  # keeps nothing
    t = cuda.threadIdx.x
    i = ti * TILE + t // 8
    for q in range(4):  # the loads first (av, bv are free now), then the stores
        j = tj * TILE + t % 8 + 8 * q
        if i < shape.m and j < shape.n:
            bufs.av[q] = W[0, i, j]
            bufs.bv[q] = V[0, i, j]
    for q in range(4):
        j = tj * TILE + t % 8 + 8 * q
        if i < shape.m and j < shape.n:
            w = bufs.av[q]
            W[0, i, j], V[0, i, j] = _sgd(w, bufs.bv[q], bufs.acc[q] + settings.decay * w, settings)


@cuda.jit(device=True, inline="always")
def bias_item(item, red, tmp, rows, n, bias, vbias, settings, kind, delta):
    """32 columns of a bias gradient, the column sums of the operand `delta` (rows x n, as the
    weight gradient's B operand), applied at once to bias, vbias (n,). Eight groups of rows,
    then a fixed-order sum in `red` (THREADS, >= 1) shared; each thread's loads four at a time
    into `tmp` (4 registers), all in flight together."""
    t = cuda.threadIdx.x
    group, lane = t // 32, t % 32
    j = item * 32 + lane
    s = float32(0.0)
    if j < n:
        for base in range(group, rows, 4 * WARPS):
            for q in range(4):
                r = base + WARPS * q
                tmp[q] = _element(kind, delta, r, j) if r < rows else 0.0
            for q in range(4):
                s += tmp[q]
    red[t, 0] = s
    cuda.syncthreads()
    if group == 0 and j < n:
        total = float32(0.0)
        for g in range(WARPS):
            total += red[g * 32 + lane, 0]
        bias[j], vbias[j] = _sgd(bias[j], vbias[j], total, settings)
    cuda.syncthreads()
