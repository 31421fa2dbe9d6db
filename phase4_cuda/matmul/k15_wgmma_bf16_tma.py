"""Rung 15, wgmma_bf16_tma: rung 13's two warpgroups fed by a third through TMA, with barriers
in shared memory (../tma.py) in place of the block barrier. In rung 13 every thread both copies
and multiplies: per step each issues 12 cp.async copies and their addresses, waits for its own,
then waits at `cuda.syncthreads()` for everyone's, so a warpgroup whose tiles have landed still
waits for the slowest copy of the block, and the registers its copies need are not accumulators.

Here the work is split (warp specialisation). A producer warpgroup has one thread that, for each
step of 128 bytes of K, waits until the stage it refills is free, announces the bytes to come on
that stage's `full` barrier and starts two TMA copies (the A tile, the B tile), each one
instruction, which the hardware writes already swizzled. The two consumer warpgroups wait on
`full` only, multiply, and once their wgmmas on a stage have retired (`wait(1)` one step later)
one thread of each arrives on that stage's `empty` barrier, which the producer waits for. No
block barrier is crossed after the start. `setmaxnreg` moves registers from the producer (40 a
thread: it holds a loop counter) to the consumers (232: 128 accumulators and room around them).

One block: 3 warpgroups (384 threads), a 128 x 256 tile of C, 4 stages of 48 KB (193 KB with
the alignment slack), one block a multiprocessor; the barriers are 2 x 4 words of static
shared memory. Edges: the TMA box reads zeros past the staged arrays; stores are guarded.
"""

from __future__ import annotations

from numba import cuda, uint32, uint64

from phase4_cuda.device import simulated
from phase4_cuda.matmul.k12_wgmma_bf16 import WORDS_PER_ROW, step_mmas, tile_store
from phase4_cuda.matmul.launch import TmaRung
from phase4_cuda.matmul.staging import WORDS
from phase4_cuda.matmul.tiles import WgmmaTiles
from phase4_cuda.tma import (
    arrive,
    arrive_expect,
    barrier_init,
    barrier_init_fence,
    load_tile,
    map_acquire,
    set_registers,
    wait_phase,
)
from phase4_cuda.wgmma import (
    ATOM_BYTES,
    descriptor,
    smem_address,
    wait,
    zeros,
)

__all__ = ["RUNG", "build"]

PRODUCER_REGISTERS, CONSUMER_REGISTERS = 40, 232  #: 128 x 40 + 256 x 232 <= 65536


def build(tiles: WgmmaTiles):
    """The kernel of one tile shape: kernel(map_a, map_b, c, m, n, kw) with the tensor maps of
    staged A (m, kw) and B^T (n, kw) (tma.tensor_map, boxes of BM and BN rows), c (m*n,)
    float32, m, n, kw uint32."""
    tiles.check()
    BM, BN, STAGES, CONSUMERS = tiles.BM, tiles.BN, tiles.stages, tiles.warpgroups
    WORD = WORDS[tiles.precision][1]
    TILE_A, TILE_B = BM * WORDS_PER_ROW, BN * WORDS_PER_ROW  # words of a stage's tiles
    STAGE = TILE_A + TILE_B
    STAGE_BYTES, PRODUCER = uint32(4 * STAGE), uint32(128 * CONSUMERS)  # its first thread
    store, step, start = tile_store(BN), step_mmas(tiles, TILE_A), zeros(BN // 2)
    U_STAGE, U_WORDS, U_STAGES = uint32(STAGE), uint32(WORDS_PER_ROW), uint32(STAGES)
    BARRIERS = 2 * STAGES  # full[0..STAGES), then empty[STAGES..2 STAGES)
    bounds = {} if simulated() else {"launch_bounds": (tiles.threads, 1)}

    @cuda.jit(device=True, inline="always")
    def produce(smem, bars, map_a, map_b, first, steps, row0, col0):
        map_acquire(map_a)
        map_acquire(map_b)
        for s in range(uint32(0), steps):
            stage = s % U_STAGES
            if s >= U_STAGES:  # wait until the consumers are done with this stage's last use
                wait_phase(bars, U_STAGES + stage, ((s // U_STAGES) - uint32(1)) & uint32(1))
            arrive_expect(bars, stage, STAGE_BYTES)
            at = first + stage * U_STAGE
            load_tile(smem, at, map_a, s * U_WORDS, row0, bars, stage)
            load_tile(smem, at + uint32(TILE_A), map_b, s * U_WORDS, col0, bars, stage)

    @cuda.jit(device=True, inline="always")
    def consume(bars, desc0, warpgroup, steps, lead):
        acc = start()
        for s in range(uint32(0), steps):
            stage = s % U_STAGES
            wait_phase(bars, stage, (s // U_STAGES) & uint32(1))  # its tiles have landed
            acc = step(acc, desc0, stage * U_STAGE, warpgroup)
            wait(1)  # step s - 1's wgmmas are retired: its stage is free
            if lead and s > uint32(0):
                arrive(bars, U_STAGES + (s - uint32(1)) % U_STAGES)
        wait(0)
        return acc

    @cuda.jit(fastmath=True, **bounds)
    def gemm(map_a, map_b, c, m, n, kw):
        smem = cuda.shared.array(0, WORD)
        bars = cuda.shared.array(BARRIERS, uint64)
        tid = uint32(cuda.threadIdx.x)
        warpgroup = tid >> uint32(7)
        row0, col0 = uint32(cuda.blockIdx.y) * uint32(BM), uint32(cuda.blockIdx.x) * uint32(BN)
        base = smem_address(smem)  # the first buffer on the swizzle's 1024-byte boundary
        pad = (uint32(ATOM_BYTES) - (base & uint32(ATOM_BYTES - 1))) & uint32(ATOM_BYTES - 1)
        steps = (kw + U_WORDS - uint32(1)) // U_WORDS
        if tid == uint32(0):
            for i in range(STAGES):
                barrier_init(bars, i, uint32(1))  # full: the producer's one arrival + bytes
                barrier_init(bars, STAGES + i, uint32(CONSUMERS))  # empty: one per consumer
            barrier_init_fence()
        cuda.syncthreads()
        if tid >= PRODUCER:
            set_registers(PRODUCER_REGISTERS, False)
            if tid == PRODUCER:
                produce(smem, bars, map_a, map_b, pad >> uint32(2), steps, row0, col0)
        else:
            set_registers(CONSUMER_REGISTERS, True)
            lead = (tid & uint32(127)) == uint32(0)
            acc = consume(bars, descriptor(base + pad), warpgroup, steps, lead)
            store(c, acc, m, n, row0 + warpgroup * uint32(64), col0, tid & uint32(127))

    return gemm


RUNG = TmaRung("wgmma_bf16_tma", "bf16", 2, build)
