"""Rung 12, wgmma_bf16: the tensor cores through Hopper's warpgroup instruction, wgmma
(../wgmma.py), in place of rung 11's mma.sync. Rung 11 hands the tensor cores its operands
through registers: each warp reads its fragments from shared memory (two loads and a rounding a
register), then waits for an instruction that covers 16 x 8 of C. Here a warpgroup (four warps,
128 threads) issues `wgmma.mma_async m64n128k16`, 64 x 128 of C, whose A and B^T the tensor
cores read straight from shared memory through two 64-bit descriptors; the instruction is
asynchronous, so the threads issue the next copies while it runs. For that the operands arrive
in what the tensor cores read: bfloat16 pairs, B transposed, written once by a staging pass
(staging.py), and copied into shared memory by cp.async in the 128-byte swizzled layout the
descriptors describe. It needs compute capability 9.0 itself (sm_90a; precisions.NEEDS_CC).

One block: one warpgroup and a 64 x 128 tile of C, 4 stages of 128 bytes of K (64 bf16): 97
KB of shared memory, past the 48 KB a block gets without the driver's opt-in
(device.allow_shared), and two blocks fit on a multiprocessor; 162 registers, no spill. At
64 x 256 one warpgroup's 128 accumulators and its copies' addresses need more than 255
registers: it spills. Edges: copies past M, N or KW fill zeros; stores are guarded.

The pipeline, per step s of 128 bytes of K (all threads): wait for this thread's copies of
step s; fence them into the async proxy (wgmma reads shared memory through it); a barrier
(every thread's copies have landed, and every warpgroup has retired its wgmmas of step s - 2:
the buffer they read is free); issue the copies of step s + STAGES - 2 into that buffer; fence
the registers, issue 4 wgmmas on buffer s, commit them as a group, and wait until only that
group is in flight, so that the tensor cores work on step s while the threads cross the next
barrier.

Measured on the H100 (results/h100-wgmma.json, `python -m phase4_cuda.wgmma_bench --sweep`):
350 TFLOP/s at n = 4096 (170 / 296 at 1024 / 2048), GPU time of the product on staged
operands; staging A and B takes 86 us more at 4096 (11 / 28 at 1024 / 2048), which brings the
whole product to 287 (91 / 200): 2.1x rung 11. cuBLAS BF16 in the same run: 781 (319 / 695).
Left out: TMA, mbarriers, a producer warpgroup, persistent blocks and any epilogue beyond the
plain store (the training step's options stay with rungs 10 and 11).
"""

from __future__ import annotations

from numba import cuda, int32, uint32, uint64

from phase4_cuda.matmul.launch import WgmmaRung
from phase4_cuda.matmul.staging import WORDS
from phase4_cuda.matmul.tiles import WgmmaTiles
from phase4_cuda.wgmma import (
    ATOM_BYTES,
    ROW_BYTES,
    commit,
    copy16,
    copy_commit,
    copy_wait,
    descriptor,
    fence,
    fence_proxy_async,
    mma_async,
    smem_address,
    swizzle128,
    wait,
    zeros,
)

__all__ = ["RUNG", "WORDS_PER_ROW", "build", "step_mmas", "tile_store"]

WORDS_PER_ROW = ROW_BYTES // 4  #: 32 words = 128 bytes of K per tile row and step


def _tile_loader(rows_in_tile: int, threads: int):
    """load(smem, at, src, rows, row0, kw, k0, tid): start the copies of rows row0.. of a staged
    operand (words k0..k0+31 of each) into the tile at word `at` of shared memory, swizzled;
    rows past `rows` and words past `kw` fill zeros. 8 chunks of 16 bytes per row, shared
    evenly: consecutive threads take consecutive chunks, so a warp reads 4 whole 128-byte rows."""
    COPIES = rows_in_tile * 8 // threads
    THREADS = uint32(threads)

    @cuda.jit(device=True, inline="always")
    def load(smem, at, src, rows, row0, kw, k0, tid):
        for i in range(COPIES):
            e = tid + uint32(i) * THREADS
            r, c = e >> uint32(3), e & uint32(7)
            gr, gk = row0 + r, k0 + c * uint32(4)
            inside = gr < rows and gk < kw
            copy16(
                smem,
                at + swizzle128(r, c) * uint32(4),
                src,
                gr * kw + gk if inside else uint32(0),
                inside,
            )

    return load


def tile_store(BN: int):
    """store(c, acc, m, n, row0, col0, t): warpgroup thread t's accumulators (wgmma.py's
    fragment: rows 16w + g and + 8, columns 8j + 2q and + 1) into C (m, n) flat, guarded.

    Written out, one line per 8 columns, with constant indices into the tuple: numba has no
    unroll pragma, LLVM leaves a loop of BN / 8 such lines rolled, and indexing a tuple with a
    loop counter compiles to a search over all its elements at every access (seen in the SASS:
    a tree of branches per value)."""

    @cuda.jit(device=True)  # (LLVM inlines it; numba's own inlining costs seconds per call)
    def put(c, m, n, r, col, v0, v1):
        if r < m:
            if col < n:
                c[r * n + col] = v0
            if col + uint32(1) < n:
                c[r * n + col + uint32(1)] = v1

    lines = [
        "def store(c, acc, m, n, row0, col0, t):",
        "    lane = t & uint32(31)",
        "    r = row0 + (t >> uint32(5)) * uint32(16) + (lane >> uint32(2))",
        "    col = col0 + (lane & uint32(3)) * uint32(2)",
    ]
    for j in range(BN // 8):
        lines.append(f"    put(c, m, n, r, col + uint32({8 * j}), acc[{4 * j}], acc[{4 * j + 1}])")
        lines.append(
            f"    put(c, m, n, r + uint32(8), col + uint32({8 * j}), acc[{4 * j + 2}], acc[{4 * j + 3}])"
        )
    scope = {"put": put, "uint32": uint32}
    exec("\n".join(lines), scope)  # (the lines generated above)
    return cuda.jit(device=True)(scope["store"])


def step_mmas(tiles: WgmmaTiles, tile_a_words: int):
    """step(acc, desc0, at, warpgroup) -> acc: the 4 wgmmas of one step (128 bytes of K) on the
    stage at word `at` (A's tile there, B's `tile_a_words` after it), this warpgroup's 64 rows
    of A against all of B, issued and committed as one group (not waited for). `desc0` is the
    descriptor of the first stage. Rungs 12-16 share it."""
    mma = mma_async(tiles.precision, tiles.BN)
    # descriptor units are 16 bytes: a warpgroup's 64 rows of A, the B tile, a wgmma's 32 bytes
    WG_ROWS, B_AT = uint32(64 * ROW_BYTES // 16), uint32(tile_a_words * 4 // 16)
    K_STEP = uint64(32 // 16)

    @cuda.jit(device=True, inline="always")
    def step(acc, desc0, at, warpgroup):
        da = desc0 + uint64((at >> uint32(2)) + warpgroup * WG_ROWS)  # at: words, 4 bytes
        db = desc0 + uint64((at >> uint32(2)) + B_AT)
        fence()  # (4 calls written out: a loop here stays rolled, as in tile_store)
        acc = mma(acc, da, db, int32(1))
        acc = mma(acc, da + K_STEP, db + K_STEP, int32(1))
        acc = mma(acc, da + uint64(2) * K_STEP, db + uint64(2) * K_STEP, int32(1))
        acc = mma(acc, da + uint64(3) * K_STEP, db + uint64(3) * K_STEP, int32(1))
        commit()
        return acc

    return step


def build(tiles: WgmmaTiles):
    """The kernel of one tile shape (compiled.py keeps one per shape): kernel(a, bt, c, m, n, kw)
    with a (m*kw,) and bt (n*kw,) staged words, c (m*n,) float32, m, n, kw uint32. Rungs 13 and
    14 are this kernel with their own tiles."""
    tiles.check()
    BM, BN, STAGES, THREADS = tiles.BM, tiles.BN, tiles.stages, tiles.threads
    WORD = WORDS[tiles.precision][1]
    TILE_A, TILE_B = BM * WORDS_PER_ROW, BN * WORDS_PER_ROW  # words of a stage's tiles
    STAGE = TILE_A + TILE_B
    AHEAD = STAGES - 2  # steps of copies in flight beyond the one being multiplied
    PENDING = AHEAD - 1  # copy groups that may still be in flight when step s must have landed
    load_a, load_b = _tile_loader(BM, THREADS), _tile_loader(BN, THREADS)
    store, step, start = tile_store(BN), step_mmas(tiles, TILE_A), zeros(BN // 2)
    U_STAGE, U_WORDS = uint32(STAGE), uint32(WORDS_PER_ROW)

    @cuda.jit(device=True, inline="always")
    def issue(smem, at, a, bt, m, n, kw, k0, row0, col0, tid):
        load_a(smem, at, a, m, row0, kw, k0, tid)
        load_b(smem, at + uint32(TILE_A), bt, n, col0, kw, k0, tid)

    @cuda.jit(fastmath=True)
    def gemm(a, bt, c, m, n, kw):
        smem = cuda.shared.array(0, WORD)
        tid = uint32(cuda.threadIdx.x)
        row0, col0 = uint32(cuda.blockIdx.y) * uint32(BM), uint32(cuda.blockIdx.x) * uint32(BN)
        # the first buffer on the swizzle's 1024-byte boundary (see wgmma.py)
        base = smem_address(smem)
        pad = (uint32(ATOM_BYTES) - (base & uint32(ATOM_BYTES - 1))) & uint32(ATOM_BYTES - 1)
        first = pad >> uint32(2)
        desc0 = descriptor(base + pad)
        warpgroup = tid >> uint32(7)
        steps = (kw + U_WORDS - uint32(1)) // U_WORDS
        for s in range(AHEAD):  # fill the pipeline: one group of copies per step
            if uint32(s) < steps:
                at = first + uint32(s) * U_STAGE
                issue(smem, at, a, bt, m, n, kw, uint32(s) * U_WORDS, row0, col0, tid)
            copy_commit()
        acc = start()
        for s in range(uint32(0), steps):
            copy_wait(PENDING)  # this thread's copies of step s have landed
            fence_proxy_async()  # ... and are visible to the tensor cores
            cuda.syncthreads()  # everyone's have; the wgmmas of step s - 2 are retired
            ahead = s + uint32(AHEAD)
            if ahead < steps:  # into the buffer of step s - 2, free since the barrier
                at = first + (ahead % uint32(STAGES)) * U_STAGE
                issue(smem, at, a, bt, m, n, kw, ahead * U_WORDS, row0, col0, tid)
            copy_commit()  # (an empty group near the end keeps the count)
            at = (s % uint32(STAGES)) * U_STAGE  # words: 4 bytes, so >> 2 gives 16-byte units
            acc = step(acc, desc0, at, warpgroup)
            wait(1)  # step s - 1's wgmmas are retired; step s's run on
        wait(0)
        store(c, acc, m, n, row0 + warpgroup * uint32(64), col0, tid & uint32(127))

    return gemm


RUNG = WgmmaRung("wgmma_bf16", "bf16", 1, build)
