"""Split-K, written once for the float32 rungs (6, 7) and the tensor-core rungs (10, 11): for a
product too small to give every multiprocessor a block, the loop over K is cut into `n_split`
slices, one per blockIdx.z, and each tile of C is summed from its slices.

The protocol, for each block (the kernel calls the steps in this order):

    k_begin, k_end = slice_of_k(k_dim, n_split, split)   whole tiles of K for slice blockIdx.z
    ... the main loop over [k_begin, k_end) ...
    publish this slice's partial tile to the workspace   (each rung's tile layout: its own loop)
    if not last_to_arrive(counters, n_split, t):          a fence, then an atomic count per tile
        return                                            not the tile's last block: done
    gather: sum the slices in slice order                 the same result whichever block came last
    reset(counters, t)                                    zero for the next launch (a CUDA graph
                                                          replays it with the same counters)
    ... the epilogue, once, by the last block ...

`n_split` is a launch argument, so one compiled kernel serves every count; whether K is split at
all is a closure constant (`split`), so the plain product compiles none of this. The workspace
holds the slices' partial tiles, then their column sums (rungs 6 and 7 sum columns of B too,
in thread_tiles.py); `workspace()` allocates it and the counters, once per planned launch.
"""

from __future__ import annotations

import numpy as np
from numba import cuda, int32, uint32

__all__ = ["k_slices", "last_to_arrive", "reset", "workspace"]


def k_slices(BK: int):
    """slice_of_k(k_dim, n_split, split) -> (k_begin, k_end): this block's slice of K, whole
    tiles of BK for slice blockIdx.z (all of it when not `split`); a slice past K is empty."""
    U_BK = uint32(BK)

    @cuda.jit(device=True, inline="always")
    def slice_of_k(k_dim, n_split, split):
        k_begin, k_end = uint32(0), k_dim
        if split:
            per = (k_dim + n_split * U_BK - uint32(1)) // (n_split * U_BK) * U_BK
            k_begin = min(uint32(cuda.blockIdx.z) * per, k_dim)
            k_end = min(k_begin + per, k_dim)
        return k_begin, k_end

    return slice_of_k


@cuda.jit(device=True, inline="always")
def last_to_arrive(counters, n_split, t):
    """Call once the block's slice is published: whether this block is the last of its tile's
    n_split blocks to get here (the one that sums them). The fence before the count makes this
    block's partial tile visible to whichever block is last; the fence after it, in the last
    block, orders its reads of the others' after their counts. t: the thread's index."""
    cuda.threadfence()
    last = cuda.shared.array(1, int32)
    cuda.syncthreads()
    tile_id = cuda.blockIdx.y * cuda.gridDim.x + cuda.blockIdx.x
    if t == 0:
        last[0] = cuda.atomic.add(counters, tile_id, 1) == n_split - uint32(1)
    cuda.syncthreads()
    if last[0] == 0:
        return False
    cuda.threadfence()
    return True


@cuda.jit(device=True, inline="always")
def reset(counters, t):
    """The last block zeroes its tile's counter for the next launch."""
    if t == 0:
        counters[cuda.blockIdx.y * cuda.gridDim.x + cuda.blockIdx.x] = 0


def workspace(split: int, m: int, n: int, tiles_of_c: int, unused) -> list:
    """[workspace, counters] for a launch of `split` slices of K over an (m, n) output of
    `tiles_of_c` block tiles: the slices' tiles and column sums (split * (m + 1) * n floats), and
    one int32 counter per tile, zero; without split-K, `unused` (a placeholder) twice."""
    if split == 1:
        return [unused, unused]
    work = cuda.device_array(split * (m + 1) * n, np.float32)
    return [work, cuda.to_device(np.zeros(tiles_of_c, np.int32))]
