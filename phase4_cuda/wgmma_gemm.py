"""The Hopper rungs of the matmul ladder: C = A @ B on wgmma (wgmma.py), the tensor-core
instruction of sm_90a, fed from shared memory by cp.async. A fast version, checked against
float64 NumPy; it leaves out TMA, mbarriers, a producer warpgroup, persistent blocks and any
epilogue beyond the plain store.

A is (M, K), B is (K, N), both float32 row-major; C is (M, N) float32. Two steps:

  staging   a pass that writes each operand once in what the tensor cores read: A as
            (M, KW) words, B transposed as (N, KW) words, each row K-major and padded with zeros
            to a multiple of 16 bytes (the unit of cp.async). bf16: two values a word, rounded
            to nearest even (cvt.rn.bf16x2); tf32: one, rounded to nearest (cvt.rna.tf32). This
            is what a bf16 model holds anyway, and what cuBLAS's bf16 GEMM takes: the GEMM is
            timed on staged operands, the staging separately. B is transposed because wgmma
            reads tf32 only K-major (bf16 could read it as stored, with the transpose bit; one
            layout for both keeps one kernel).
  gemm      blocks of BM = 64 * warpgroups rows and BN columns of C; each warpgroup owns 64 rows
            and issues one m64n{BN} wgmma per 32 bytes of K. Per step of 128 bytes of K (64 bf16
            or 32 tf32), every thread copies its share of the A and B^T tiles into shared memory
            with cp.async, in the 128-byte swizzled layout the descriptors describe; STAGES
            buffers make a pipeline that keeps STAGES - 2 steps of copies in flight while the
            tensor cores work. Edges: copies past M, N or KW fill zeros; stores are guarded.

The rungs, each one change on the one before (`RUNGS`). TFLOP/s on an H100 80GB HBM3 at square
n = 1024 / 2048 / 4096, GPU time of the GEMM on staged operands (results/h100-wgmma.json, from
`python -m phase4_cuda.wgmma_gemm --sweep`, whose harness is wgmma_bench.py):
  12 wgmma_bf16      one warpgroup per block: a 64 x 128 tile, 4 stages (97 KB of shared
                     memory: more than the 48 KB a block gets unless raised, see allow_shared;
                     two blocks fit on a multiprocessor; 162 registers)    170 / 296 / 350
                     (at 64 x 256 one warpgroup's 128 accumulators and its copies' addresses
                     need more than 255 registers: it spills)
  13 wgmma_bf16_2wg  two warpgroups share each B tile of a wider one: 128 x 256 (242
                     registers, 193 KB), so each byte copied feeds twice the FLOPs
                                                                           87 / 380 / 520
  14 wgmma_tf32_2wg  rung 13 in tf32: the same bytes per step (32 of K), k8 per instruction
                                                                           59 / 252 / 303
Beside them, same run: cuBLAS bf16 319 / 695 / 781 (float32 output: 298 / 625 / 749), cuBLAS
TF32 143 / 349 / 397, Triton bf16 (tutorial kernel) 238 / 570 / 664. At n = 1024 the 128 x 256
tile makes 32 blocks for 132 multiprocessors: `tiles_for` picks a smaller tile there. Staging
both operands takes 11 / 28 / 86 us in bf16 (0.25 ms of GEMM at 4096). Other shapes measured
(the sweep): 3 stages of 128 x 256 398 at 4096, 128 x 128 413, 5 stages of 64 x 128 296.

The pipeline, per step s (all threads): wait for this thread's copies of step s; fence them
into the async proxy (wgmma reads shared memory through it); a barrier (every thread's copies
have landed, and every warpgroup has retired its wgmmas of step s - 2: the buffer they read is
free); issue the copies of step s + STAGES - 2 into that buffer; fence the registers, issue
4 wgmmas on buffer s, commit them as a group, and wait until only that group is in flight, so
that the tensor cores work on step s while the threads cross the next barrier.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import cuda, float32, int32, uint32, uint64

from phase4_cuda.device import as_device, is_device_array, require_gpu, simulated
from phase4_cuda.tensor_cores import bf16x2, tf32
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

__all__ = [
    "PRECISIONS",
    "RUNGS",
    "Launch",
    "WgmmaTiles",
    "allow_shared",
    "gemm_kernel",
    "matmul_wgmma",
    "plan_gemm",
    "relative_error",
    "stage",
    "tiles_for",
    "validate",
    "words_per_row",
]

#: precision -> (values per 32-bit word, word type of the staged operands, largest relative
#: error ||C - ref|| / ||ref|| against float64: 4 units of roundoff of the rounded inputs)
PRECISIONS = {"bf16": (2, uint32, 4 * 2.0**-8), "tf32": (1, float32, 4 * 2.0**-11)}
WORDS_PER_ROW = ROW_BYTES // 4  #: 32 words = 128 bytes of K per tile row and step
DEFAULT_SHARED = 48 * 1024  #: dynamic shared memory a block gets without the opt-in


@dataclass(frozen=True)
class WgmmaTiles:
    """One kernel's shape: BN columns of C per block (the wgmma's n), `warpgroups` of 64 rows
    each (BM = 64 * warpgroups), `stages` shared buffers, and the precision."""

    BN: int = 256
    warpgroups: int = 2
    stages: int = 4
    precision: str = "bf16"

    @property
    def BM(self) -> int:
        return 64 * self.warpgroups

    @property
    def threads(self) -> int:
        return 128 * self.warpgroups

    @property
    def shared_bytes(self) -> int:
        """The buffers, plus one atom of slack to put the first on a 1024-byte boundary."""
        return self.stages * (self.BM + self.BN) * ROW_BYTES + ATOM_BYTES

    def check(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"unknown precision {self.precision!r}; expected one of {list(PRECISIONS)}"
            )
        if not (8 <= self.BN <= 256 and self.BN % (16 * self.warpgroups) == 0):
            raise ValueError(f"{self}: BN must be 8..256 and share its rows' copies evenly")
        if self.stages < 3 or self.shared_bytes > 227 * 1024:
            raise ValueError(f"{self}: 3 or more stages in 227 KB, not {self.shared_bytes} bytes")

    def __str__(self) -> str:
        return f"{self.precision} {self.BM}x{self.BN} {self.warpgroups}wg {self.stages}st"


#: the ladder's rungs, by name, in order (see the module docstring)
RUNGS = {
    "wgmma_bf16": WgmmaTiles(128, 1, 4, "bf16"),
    "wgmma_bf16_2wg": WgmmaTiles(256, 2, 4, "bf16"),
    "wgmma_tf32_2wg": WgmmaTiles(256, 2, 4, "tf32"),
}


def tiles_for(m: int, n: int, precision: str = "bf16") -> WgmmaTiles:
    """The tile shape for an (m, n) output: the two-warpgroup 128 x 256 tile, unless its grid
    would leave half the multiprocessors idle; then a smaller one with more blocks, the
    fastest measured there. On an H100 at n = 1024 (32 blocks of 128 x 256), bf16: 87 TFLOP/s
    against 170 for one warpgroup's 64 x 128 (128 blocks); tf32: 59 against 92 for 128 x 128
    (64 blocks). At n = 2048 (128 blocks) 128 x 256 wins: 380 against 296 in bf16."""
    large = RUNGS[f"wgmma_{precision}_2wg"]
    sms = 132 if simulated() else cuda.get_current_device().MULTIPROCESSOR_COUNT
    if math.ceil(m / large.BM) * math.ceil(n / large.BN) >= sms // 2:
        return large
    return RUNGS["wgmma_bf16"] if precision == "bf16" else WgmmaTiles(128, 2, 4, "tf32")


def relative_error(got, ref) -> float:
    """||got - ref|| / ||ref|| (Frobenius, float64); NaN anywhere gives NaN."""
    ref = np.asarray(ref, np.float64)
    return float(np.linalg.norm(np.asarray(got, np.float64) - ref) / (np.linalg.norm(ref) or 1.0))


# ------------------------------------------------------------------------------------------------
# Staging: float32 operands -> K-major rows of 32-bit words, padded to 16 bytes
def words_per_row(k: int, precision: str) -> int:
    """Words of a staged row of K values: ceil(K / values per word), rounded up to 4 words."""
    per_word = PRECISIONS[precision][0]
    return -(-k // (4 * per_word)) * 4


_STAGING: dict = {}


def _staging_kernel(precision: str, transpose: bool):
    """stage(x, out, rows, cols, kw): x is (rows, cols) float32 flat; out is (cols, kw) words
    of x's columns when `transpose` (B: K = rows), else (rows, kw) of x's rows (A: K = cols)."""
    if (precision, transpose) in _STAGING:
        return _STAGING[precision, transpose]
    PER = PRECISIONS[precision][0]

    if PER == 2:

        @cuda.jit(device=True, inline="always")
        def word(lo, hi):  # a pair: lo (the lower k) in the low half
            return bf16x2(hi, lo)

    else:

        @cuda.jit(device=True, inline="always")
        def word(lo, hi):
            return tf32(lo)

    if not transpose:

        @cuda.jit
        def stage_rows(x, out, rows, cols, kw):
            first = uint32(cuda.blockIdx.x) * uint32(cuda.blockDim.x) + uint32(cuda.threadIdx.x)
            for i in range(first, rows * kw, uint32(cuda.gridDim.x) * uint32(cuda.blockDim.x)):
                r, w = i // kw, i % kw
                k = w * uint32(PER)
                lo = x[r * cols + k] if k < cols else float32(0.0)
                hi = (
                    x[r * cols + k + uint32(1)]
                    if PER == 2 and k + uint32(1) < cols
                    else float32(0.0)
                )
                out[i] = word(lo, hi)

        kernel = stage_rows
    else:
        # a tile of 32 columns x 32 words through shared memory, so that both the reads (along
        # x's rows) and the writes (along out's rows) are coalesced; rows padded by one float
        # so that the transposed reads hit 32 different banks
        K_TILE = 32 * PER
        TILE = (32, K_TILE + 1)  # (a constant: numba sizes shared arrays at compile time)

        @cuda.jit
        def stage_columns(x, out, rows, cols, kw):
            tile = cuda.shared.array(TILE, float32)
            tx, ty, step = (
                uint32(cuda.threadIdx.x),
                uint32(cuda.threadIdx.y),
                uint32(cuda.blockDim.y),
            )
            j0, w0 = uint32(cuda.blockIdx.x) * uint32(32), uint32(cuda.blockIdx.y) * uint32(32)
            for kk in range(ty, uint32(K_TILE), step):
                k, j = w0 * uint32(PER) + kk, j0 + tx
                tile[tx, kk] = x[k * cols + j] if k < rows and j < cols else float32(0.0)
            cuda.syncthreads()
            for jj in range(ty, uint32(32), step):
                j, w = j0 + uint32(jj), w0 + tx
                if j < cols and w < kw:
                    hi = tile[jj, PER * tx + uint32(1)] if PER == 2 else float32(0.0)
                    out[j * kw + w] = word(tile[jj, PER * tx], hi)

        kernel = stage_columns
    _STAGING[precision, transpose] = kernel
    return kernel


def stage(x, precision: str, transpose: bool = False, out=None, stream=0):
    """x (rows, cols) float32 on the device -> its staged words: (rows, KW(cols)), or with
    `transpose` (cols, KW(rows)), written into `out` if given; see the module docstring."""
    rows, cols = x.shape
    word_type = PRECISIONS[precision][1]
    k, outer = (rows, cols) if transpose else (cols, rows)
    kw = words_per_row(k, precision)
    if out is None:
        out = cuda.device_array(
            (outer, kw), np.uint32 if word_type == uint32 else np.float32, stream=stream
        )
    kernel = _staging_kernel(precision, transpose)
    # (the simulator runs a Python thread per CUDA thread: fewer of them there)
    if transpose:
        grid, block = (math.ceil(cols / 32), math.ceil(kw / 32)), (32, 2 if simulated() else 8)
    else:
        grid, block = (1, 64) if simulated() else (min(math.ceil(rows * kw / 256), 4096), 256)
    args = (x.reshape(x.size), out.reshape(out.size), *map(np.uint32, (rows, cols, kw)))
    Launch(kernel, grid, block, args, stream)()
    return out


# ------------------------------------------------------------------------------------------------
# The GEMM on staged operands
_COMPILED: dict = {}


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


def _tile_store(BN: int):
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


def gemm_kernel(tiles: WgmmaTiles):
    """The kernel of one tile shape (compiled once per shape): kernel(a, bt, c, m, n, kw) with
    a (m*kw,) and bt (n*kw,) staged words, c (m*n,) float32, m, n, kw uint32."""
    tiles.check()
    if tiles in _COMPILED:
        return _COMPILED[tiles]
    BM, BN, STAGES, THREADS = tiles.BM, tiles.BN, tiles.stages, tiles.threads
    WORD = PRECISIONS[tiles.precision][1]
    TILE_A, TILE_B = BM * WORDS_PER_ROW, BN * WORDS_PER_ROW  # words of a stage's tiles
    STAGE = TILE_A + TILE_B
    AHEAD = STAGES - 2  # steps of copies in flight beyond the one being multiplied
    PENDING = AHEAD - 1  # copy groups that may still be in flight when step s must have landed
    load_a, load_b = _tile_loader(BM, THREADS), _tile_loader(BN, THREADS)
    store = _tile_store(BN)
    mma, start = mma_async(tiles.precision, BN), zeros(BN // 2)
    U_STAGE, U_WORDS = uint32(STAGE), uint32(WORDS_PER_ROW)
    # descriptor units are 16 bytes: a warpgroup's 64 rows of A, the B tile, a wgmma's 32 bytes
    WG_ROWS, B_AT, K_STEP = uint32(64 * ROW_BYTES // 16), uint32(TILE_A * 4 // 16), uint64(32 // 16)

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
            da = desc0 + uint64((at >> uint32(2)) + warpgroup * WG_ROWS)
            db = desc0 + uint64((at >> uint32(2)) + B_AT)
            fence()  # (4 calls written out: a loop here stays rolled, as in _tile_store)
            acc = mma(acc, da, db, int32(1))
            acc = mma(acc, da + K_STEP, db + K_STEP, int32(1))
            acc = mma(acc, da + uint64(2) * K_STEP, db + uint64(2) * K_STEP, int32(1))
            acc = mma(acc, da + uint64(3) * K_STEP, db + uint64(3) * K_STEP, int32(1))
            commit()
            wait(1)  # step s - 1's wgmmas are retired; step s's run on
        wait(0)
        store(c, acc, m, n, row0 + warpgroup * uint32(64), col0, tid & uint32(127))

    _COMPILED[tiles] = gemm
    return gemm


# ------------------------------------------------------------------------------------------------
# Launches
_RAISED: set = set()


def allow_shared(kernel, args, nbytes: int) -> None:
    """Let `kernel`, as compiled for `args`, take `nbytes` of dynamic shared memory.

    A block gets 48 KB unless its kernel opts in to more, per kernel, through the driver
    attribute CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES. numba-cuda has no API for it:
    the only way to the kernel's driver handle is the private `_codelibrary.get_cufunc()` of
    the compiled overload, which this function alone touches (test_wgmma has a GPU test of it).
    With library loading that handle is a CUkernel, so the call is cuKernelSetAttribute
    (cuFuncSetAttribute refuses it). A no-op in the simulator and at 48 KB or less."""
    if simulated() or nbytes <= DEFAULT_SHARED:
        return
    compiled = kernel.compile(tuple(kernel.typeof_pyval(x) for x in args))
    if (id(compiled), nbytes) in _RAISED:
        return
    from cuda.bindings import driver

    handle = compiled._codelibrary.get_cufunc().handle
    attribute = driver.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
    err, device = driver.cuCtxGetDevice()
    if err == driver.CUresult.CUDA_SUCCESS:
        (err,) = driver.cuKernelSetAttribute(attribute, nbytes, handle, device)
    if err != driver.CUresult.CUDA_SUCCESS:
        raise RuntimeError(f"could not give the kernel {nbytes} bytes of shared memory: {err}")
    _RAISED.add((id(compiled), nbytes))


@dataclass(frozen=True)
class Launch:
    """One planned launch: kernel, grid, block, arguments, stream and dynamic shared memory.
    Made once (the configuration and the shared-memory opt-in happen here), called many times."""

    kernel: object
    grid: int | tuple[int, ...]
    block: int | tuple[int, ...]
    args: tuple
    stream: object = 0
    shared: int = 0

    def __post_init__(self) -> None:
        allow_shared(self.kernel, self.args, self.shared)
        # (the simulator's kernel[...] configures the kernel object itself: there, configure
        # at each call, as device.configure explains)
        if not simulated():
            configured = self.kernel[self.grid, self.block, self.stream, self.shared]
            object.__setattr__(self, "_configured", configured)

    def __call__(self) -> None:
        if simulated():
            self.kernel[self.grid, self.block, self.stream, self.shared](*self.args)
        else:
            self._configured(*self.args)


def plan_gemm(a_words, bt_words, c, tiles: WgmmaTiles, stream=0) -> Launch:
    """The launch of C (M, N) = A @ B from staged A (M, KW) and B^T (N, KW) (see `stage`)."""
    (m, kw), (n, kw2) = a_words.shape, bt_words.shape
    if kw != kw2 or c.shape != (m, n):
        raise ValueError(
            f"staged shapes {a_words.shape}, {bt_words.shape} and C {c.shape} disagree"
        )
    grid = (math.ceil(n / tiles.BN), math.ceil(m / tiles.BM))
    args = (a_words.reshape(a_words.size), bt_words.reshape(bt_words.size), c.reshape(c.size),
            np.uint32(m), np.uint32(n), np.uint32(kw))  # fmt: skip
    return Launch(gemm_kernel(tiles), grid, tiles.threads, args, stream, tiles.shared_bytes)


def matmul_wgmma(a, b, precision: str = "bf16", out=None, tiles: WgmmaTiles | None = None):
    """C = A @ B on Hopper's wgmma: a (M, K), b (K, N), float32 in and out (NumPy arrays give a
    NumPy result; device arrays stay on the device, as `phase4_cuda.device` describes); the
    inputs rounded to `precision` ('bf16' or 'tf32') by the staging pass, the sums in float32.
    `tiles` defaults to `tiles_for` the output's shape."""
    require_gpu()
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {list(PRECISIONS)}")
    on_device = is_device_array(a) or is_device_array(b) or is_device_array(out)
    da, db = as_device(a, "a", 2), as_device(b, "b", 2)
    (m, k), (k2, n) = da.shape, db.shape
    if k != k2:
        raise ValueError(f"matmul_wgmma: shapes ({m}, {k}) and ({k2}, {n}) are not aligned")
    tiles = tiles or tiles_for(m, n, precision)
    if tiles.precision != precision:
        raise ValueError(f"tiles {tiles} compute in {tiles.precision}, not {precision}")
    dc = cuda.device_array((m, n), np.float32) if out is None else as_device(out, "out", 2)
    if dc.shape != (m, n):
        raise ValueError(f"out has shape {dc.shape}, expected {(m, n)}")
    plan_gemm(stage(da, precision), stage(db, precision, transpose=True), dc, tiles)()
    return dc if on_device else dc.copy_to_host()


#: shapes for the checks: 1, primes, edge blocks both ways, K not a multiple of 8, more steps
#: of K than stages (the pipeline wraps around)
CHECK_SHAPES = ((1, 1, 1), (70, 19, 41), (130, 300, 67), (257, 1000, 300))


def validate(tiles_list, shapes=CHECK_SHAPES, seed: int = 0) -> dict:
    """Every tile shape against float64 NumPy on fresh random inputs of each (M, K, N), the
    output poisoned with NaN first. Returns {(str(tiles), shape): error}; raises AssertionError
    at the first error over the precision's tolerance (NaN included: an element never written)."""
    rng = np.random.default_rng(seed)
    errors = {}
    for m, k, n in shapes:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        ref = a.astype(np.float64) @ b
        da, db = cuda.to_device(a), cuda.to_device(b)
        for tiles in tiles_list:
            out = cuda.to_device(np.full((m, n), np.nan, np.float32))
            matmul_wgmma(da, db, tiles.precision, out, tiles)
            err = errors[str(tiles), (m, k, n)] = relative_error(out.copy_to_host(), ref)
            if not err <= PRECISIONS[tiles.precision][2]:
                raise AssertionError(
                    f"{tiles} at (M, K, N) = {(m, k, n)}: relative error {err:.2e}"
                )
    return errors


if __name__ == "__main__":
    import sys

    from phase4_cuda.wgmma_bench import main  # the harness lives beside this file

    sys.exit(main())
