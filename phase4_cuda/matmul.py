"""The float32 matrix product C = A @ B in numba.cuda, as a ladder of versions side by side.

A is (M, K), B is (K, N), C is (M, N), all row-major. Every version handles any shape (edges are
guarded, missing elements read as 0). Each step says what it changes and why it is faster:

  1 naive      one thread per output element; threadIdx.x runs along a row of C, so a warp reads
               32 consecutive elements of B (one coalesced transaction) and one broadcast of A.
  2 tiled      the classic: a 32x32 block stages 32x32 tiles of A and B in shared memory, so each
               element read from global memory is used 32 times instead of once.
  3 blocked1d  each thread computes 8 outputs of one column (1D register blocking): a value of B
               read from shared memory is reused 8 times from a register.
  4 blocked2d  each thread computes an 8x8 tile of outputs held in registers (2D register
               blocking): per step of k it reads 8 + 8 values from shared memory for 64 FMAs.
               Threads own strided rows and columns (ty + 16 r, tx + 16 q), so a warp's shared
               reads are consecutive or broadcast: no bank conflicts.
  5 unsigned   version 4 with flat arrays and unsigned 32-bit indices: numba indexes with signed
               64-bit integers and allows negative indices, so each load paid for a wraparound
               fix-up and Python's floor division; unsigned indices compile to plain loads at
               constant offsets (see the PTX excerpt in README.md).
  6 double_buffered
               version 5 plus double buffering: the next tiles are loaded into registers while
               the current ones are multiplied (two shared buffers, one barrier per step); tile
               sizes are compile-time constants, chosen per problem size (the table TUNED).
  7 wide       each thread owns runs of 4 adjacent rows and columns instead of strided ones, so
               it reads its operands from shared memory with 128-bit loads (`wide_loads.load4`,
               an LLVM intrinsic: numba has no float4 arrays): 4 loads instead of 16 per step of
               k. Its epilogue can add a bias and apply an activation: the fused dense layer.
  8 tensor_tf32
               the tensor cores: each warp computes 16x8 tiles of C with one mma.sync
               instruction in TF32 (tensor_cores.py), fed from shared memory; a precision of
               its own (inputs with 10 mantissa bits), chosen by matmul(..., precision="tf32").
  9 tensor_bf16
               the same in bfloat16 (mma.sync m16n8k16: 8 mantissa bits, 16 of K per
               instruction), the operands packed in pairs as they are staged; precision="bf16".
 10 tensor_tf32_async
 11 tensor_bf16_async
               rungs 8 and 9 fed by cp.async (async_copy.py): tiles copied from global to shared
               memory without passing through registers, several in flight at once (a pipeline
               of shared buffers), rounded as the fragments are read.

References: Simon Boehm, "How to Optimize a CUDA Matmul Kernel for cuBLAS-like Performance"
(siboehm.com, 2022), whose kernels 1-6 this ladder follows; the numba documentation's
shared-memory matmul for version 2. `validate()` checks every version against a float64 NumPy
product before `benchmark.py` times any of them; `matmul()` picks the fastest verified version.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from numba import cuda, float32, int32, uint32

from phase4_cuda.async_copy import commit, copy4, copy16, wait
from phase4_cuda.device import as_device, configure, is_device_array, require_gpu, simulated
from phase4_cuda.kernel_cache import cached
from phase4_cuda.tensor_cores import bf16x2, mma_bf16, mma_tf32, tf32
from phase4_cuda.wide_loads import SHARED_ALIGN, load4
from shared.testing import relative_error

__all__ = [
    "ACTIVATIONS",
    "CHECK_SHAPES",
    "DEFAULT_VERSION",
    "FUSED",
    "PRECISIONS",
    "TOLERANCE",
    "TUNED",
    "VERSIONS",
    "GemmVariant",
    "Launch",
    "TensorTiles",
    "TensorVariant",
    "Tiles",
    "check_precision",
    "compiled_kernels",
    "gemm_kernel",
    "matmul",
    "plan",
    "precision_of",
    "reference",
    "relative_error",
    "require_precision",
    "tensor_kernel",
    "tensor_tiles_for",
    "tiles_for",
    "validate",
]


# ------------------------------------------------------------------------------------------------
# 1. naive
@cached
@cuda.jit(fastmath=True)
def matmul_naive(a, b, c):
    # a: (M, K), b: (K, N), c: (M, N); one thread per c[i, j]
    j = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    i = cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y
    if i < c.shape[0] and j < c.shape[1]:
        acc = float32(0.0)
        for k in range(a.shape[1]):
            acc += a[i, k] * b[k, j]
        c[i, j] = acc


# ------------------------------------------------------------------------------------------------
# 2. shared-memory tiling
TILE = 32


@cached
@cuda.jit(fastmath=True)
def matmul_tiled(a, b, c):
    # a: (M, K), b: (K, N), c: (M, N); block (TILE, TILE) computes one TILE x TILE tile of c
    sa = cuda.shared.array((TILE, TILE), float32)
    sb = cuda.shared.array((TILE, TILE), float32)  # own line: the simulator aliases one-liners
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    i = cuda.blockIdx.y * TILE + ty
    j = cuda.blockIdx.x * TILE + tx
    m, k_dim, n = a.shape[0], a.shape[1], b.shape[1]
    acc = float32(0.0)
    for k0 in range(0, k_dim, TILE):
        sa[ty, tx] = a[i, k0 + tx] if i < m and k0 + tx < k_dim else float32(0.0)
        sb[ty, tx] = b[k0 + ty, j] if k0 + ty < k_dim and j < n else float32(0.0)
        cuda.syncthreads()
        for kk in range(TILE):
            acc += sa[ty, kk] * sb[kk, tx]  # sa: broadcast within a warp; sb: consecutive
        cuda.syncthreads()
    if i < m and j < n:
        c[i, j] = acc


# ------------------------------------------------------------------------------------------------
# 3. 1D register blocking: a 64x64 block tile, BK=8, each of 512 threads computes 8 rows of a column
BM3, BN3, BK3, TM3 = 64, 64, 8, 8
THREADS3 = BM3 * BN3 // TM3  # 512: one element of each shared tile loaded per thread


@cached
@cuda.jit(fastmath=True)
def matmul_blocked1d(a, b, c):
    # a: (M, K), b: (K, N), c: (M, N)
    sa = cuda.shared.array((BM3, BK3), float32)
    sb = cuda.shared.array((BK3, BN3), float32)
    t = cuda.threadIdx.x
    row0 = cuda.blockIdx.y * BM3
    col0 = cuda.blockIdx.x * BN3
    col = t % BN3  # this thread's column in the tile
    rows = (t // BN3) * TM3  # its first row; it owns rows rows .. rows + TM3 - 1
    ar, ac = t // BK3, t % BK3  # the element of the A tile it loads
    br, bc = t // BN3, t % BN3  # the element of the B tile it loads
    m, k_dim, n = a.shape[0], a.shape[1], b.shape[1]
    acc = cuda.local.array(TM3, float32)
    for r in range(TM3):
        acc[r] = 0.0
    for k0 in range(0, k_dim, BK3):
        gi, gk = row0 + ar, k0 + ac
        sa[ar, ac] = a[gi, gk] if gi < m and gk < k_dim else float32(0.0)
        gk, gj = k0 + br, col0 + bc
        sb[br, bc] = b[gk, gj] if gk < k_dim and gj < n else float32(0.0)
        cuda.syncthreads()
        for kk in range(BK3):
            bv = sb[kk, col]  # read once, used TM3 times
            for r in range(TM3):
                acc[r] += sa[rows + r, kk] * bv
        cuda.syncthreads()
    j = col0 + col
    for r in range(TM3):
        i = row0 + rows + r
        if i < m and j < n:
            c[i, j] = acc[r]


# ------------------------------------------------------------------------------------------------
# 4. 2D register blocking: a 128x128 block tile, BK=8, each of 256 threads computes 8x8 outputs
BM4, BN4, BK4, TM4, TN4 = 128, 128, 8, 8, 8
TROWS4, TCOLS4 = BM4 // TM4, BN4 // TN4  # 16 x 16 threads
THREADS4 = TROWS4 * TCOLS4  # 256
LOADS4 = BM4 * BK4 // THREADS4  # 4 elements of each tile loaded per thread


@cached
@cuda.jit(fastmath=True)
def matmul_blocked2d(a, b, c):
    # a: (M, K), b: (K, N), c: (M, N); thread (ty, tx) owns rows ty + 16 r and columns tx + 16 q
    sa = cuda.shared.array((BK4, BM4), float32)  # A stored transposed: sa[k, m]
    sb = cuda.shared.array((BK4, BN4), float32)
    t = cuda.threadIdx.x
    tx, ty = t % TCOLS4, t // TCOLS4
    row0 = cuda.blockIdx.y * BM4
    col0 = cuda.blockIdx.x * BN4
    m, k_dim, n = a.shape[0], a.shape[1], b.shape[1]
    acc = cuda.local.array((TM4, TN4), float32)
    reg_a = cuda.local.array(TM4, float32)
    reg_b = cuda.local.array(TN4, float32)
    for r in range(TM4):
        for q in range(TN4):
            acc[r, q] = 0.0
    for k0 in range(0, k_dim, BK4):
        for l in range(LOADS4):
            e = t + l * THREADS4
            ai, ak = e // BK4, e % BK4  # consecutive threads read consecutive k: coalesced
            gi, gk = row0 + ai, k0 + ak
            sa[ak, ai] = a[gi, gk] if gi < m and gk < k_dim else float32(0.0)
            bk, bj = e // BN4, e % BN4
            gk, gj = k0 + bk, col0 + bj
            sb[bk, bj] = b[gk, gj] if gk < k_dim and gj < n else float32(0.0)
        cuda.syncthreads()
        for kk in range(BK4):
            for r in range(TM4):
                reg_a[r] = sa[kk, ty + r * TROWS4]
            for q in range(TN4):
                reg_b[q] = sb[kk, tx + q * TCOLS4]
            for r in range(TM4):
                for q in range(TN4):
                    acc[r, q] += reg_a[r] * reg_b[q]
        cuda.syncthreads()
    for r in range(TM4):
        i = row0 + ty + r * TROWS4
        for q in range(TN4):
            j = col0 + tx + q * TCOLS4
            if i < m and j < n:
                c[i, j] = acc[r, q]


# ------------------------------------------------------------------------------------------------
# 5. unsigned: version 4, with flat arrays and unsigned 32-bit index arithmetic
#
# numba indexes arrays with signed 64-bit integers and supports negative indices, so every
# `s[i]` with a signed i compiles to a wraparound fix-up (`i + (i < 0 ? len : 0)`), and `//` and
# `%` get Python's floor semantics (more fix-ups). Cast indices to uint32 and build them only from
# unsigned values and unsigned constants: the fix-ups vanish and LLVM folds the unrolled offsets
# into the loads (`ld.shared.f32 [%rd11+128]`). Everything else is as in version 4.
U_BM, U_BN, U_BK = np.uint32(BM4), np.uint32(BN4), np.uint32(BK4)
U_TROWS, U_TCOLS, U_THREADS = np.uint32(TROWS4), np.uint32(TCOLS4), np.uint32(THREADS4)
SA5, SB5 = BK4 * BM4, BK4 * BN4


@cached
@cuda.jit(fastmath=True)
def matmul_unsigned(a, b, c, m, n, k_dim):
    # a: (m*k_dim,), b: (k_dim*n,), c: (m*n,) row-major; m, n, k_dim: uint32
    sa = cuda.shared.array(SA5, float32)  # sa[k * BM + row]: A transposed
    sb = cuda.shared.array(SB5, float32)  # sb[k * BN + col]
    t = uint32(cuda.threadIdx.x)
    tx, ty = t % U_TCOLS, t // U_TCOLS
    row0 = uint32(cuda.blockIdx.y) * U_BM
    col0 = uint32(cuda.blockIdx.x) * U_BN
    acc = cuda.local.array((TM4, TN4), float32)
    reg_a = cuda.local.array(TM4, float32)
    reg_b = cuda.local.array(TN4, float32)
    for r in range(TM4):
        for q in range(TN4):
            acc[r, q] = 0.0
    for k0 in range(uint32(0), k_dim, U_BK):
        for l in range(LOADS4):
            e = t + uint32(l * THREADS4)
            ai, ak = e // U_BK, e % U_BK
            gi, gk = row0 + ai, k0 + ak
            sa[ak * U_BM + ai] = a[gi * k_dim + gk] if gi < m and gk < k_dim else float32(0.0)
            bk, bj = e // U_BN, e % U_BN
            gk, gj = k0 + bk, col0 + bj
            sb[e] = b[gk * n + gj] if gk < k_dim and gj < n else float32(0.0)
        cuda.syncthreads()
        for kk in range(BK4):
            for r in range(TM4):
                reg_a[r] = sa[ty + uint32(kk * BM4 + r * TROWS4)]
            for q in range(TN4):
                reg_b[q] = sb[tx + uint32(kk * BN4 + q * TCOLS4)]
            for r in range(TM4):
                for q in range(TN4):
                    acc[r, q] += reg_a[r] * reg_b[q]
        cuda.syncthreads()
    for r in range(TM4):
        i = row0 + ty + uint32(r * TROWS4)
        for q in range(TN4):
            j = col0 + tx + uint32(q * TCOLS4)
            if i < m and j < n:
                c[i * n + j] = acc[r, q]


# ------------------------------------------------------------------------------------------------
# 8. tensor_tf32: the tensor cores. A warp multiplies 16x8 by 8x8 tiles in one instruction,
# mma.sync m16n8k8 in TF32 (tensor_cores.py): float32 inputs rounded to 10 mantissa bits,
# products summed in float32. A block computes a BM x BN tile of C; its warps split it into
# WM x WN tiles, each (WM/16) x (WN/8) mma tiles of 4 accumulators a thread. Per step of BK
# along K the block stages A's BM x BK and B's BK x BN in shared memory, rounded to TF32 once as
# they arrive; each warp reads its fragments (the layout in tensor_cores.py) and issues
# (WM/16)(WN/8) mma per 8 of K: the larger the warp tile, the more mma per fragment read. While
# the warps multiply, each thread already holds the next step's global values in registers
# (loaded before the mma, stored after the barrier), so global latency hides behind the
# arithmetic. Shared rows are padded (BK + 4 and BN + 8 floats) so that the 32 lanes reading a
# fragment hit 32 different banks.
@dataclass(frozen=True)
class TensorTiles:
    """Block tile BM x BN, BK deep; warp tile WM x WN; `stages` shared buffers for the
    cp.async rungs (10, 11) to cycle through (rungs 8 and 9 stage through registers: one)."""

    BM: int = 128
    BN: int = 128
    BK: int = 32
    WM: int = 64
    WN: int = 32
    stages: int = 1

    @property
    def warps(self) -> int:
        return (self.BM // self.WM) * (self.BN // self.WN)

    @property
    def threads(self) -> int:
        return 32 * self.warps

    def check(self) -> None:
        if self.BM % self.WM or self.BN % self.WN or self.WM % 16 or self.WN % 8 or self.BK % 8:
            raise ValueError(f"{self}: warp tiles must divide the block tile, in 16 x 8 mma tiles")
        share = self.threads * (4 if self.stages > 1 else 1)  # cp.async: 16-byte copies
        if (self.BM * self.BK) % share or (self.BK * self.BN) % share:
            raise ValueError(f"{self}: the threads must share the tiles' loads evenly")
        if self.stages > 1 and self.shared_bytes > SHARED_LIMIT:
            raise ValueError(
                f"{self}: {self.stages} stages need {self.shared_bytes} bytes of shared memory; "
                f"a kernel's static shared memory is limited to {SHARED_LIMIT}"
            )

    @property
    def shared_bytes(self) -> int:
        """Shared memory of the cp.async rungs: `stages` float32 tiles of A and B, padded."""
        return 4 * self.stages * (self.BM * (self.BK + 4) + self.BK * (self.BN + 8))

    def __str__(self) -> str:
        text = f"{self.BM}x{self.BN}x{self.BK}/warp {self.WM}x{self.WN}"
        return text + (f" x{self.stages} stages" if self.stages > 1 else "")


#: the most static shared memory one kernel may declare (more needs dynamic shared memory and an
#: opt-in that numba does not offer)
SHARED_LIMIT = 48 * 1024


#: The block and warp tiles the tensor-core rungs run with, per precision, the fastest of seven
#: measured for each on the H100 (results/h100-tensor-tiles.json): 128x128 blocks of four 64x64
#: warp tiles (32 mma per step of the instruction's K, for 16 + 16 fragment reads) where the
#: output has enough of them to fill the GPU, else 64x64 blocks of four 32x32 warp tiles; BK 16
#: for TF32 (32 spilled registers past it), 32 for BF16 (two of its 16-deep steps per barrier).
#: In the simulator, where each CUDA thread is a Python thread and every mma a barrier of 32 of
#: them, small tiles that still have several mma tiles per warp: the same index arithmetic on
#: odd shapes in seconds instead of minutes.
#: The cp.async rungs (10, 11), the fastest of nine measured for each precision on the H100
#: (results/h100-async-tiles.json): the same 128x128 blocks of 64x64 warp tiles, BK 16, with two
#: float32 buffers in shared memory (38 KB of the 48 a kernel may declare); three or four stages
#: fit only with BK 8 or smaller blocks, and both measured slower. Their small tiles, four stages
#: of 64x64, run only for outputs of fewer than 64 blocks (TC_FILL).
TC_LARGE = {
    "tensor_tf32": TensorTiles(128, 128, 16, 64, 64),
    "tensor_bf16": TensorTiles(128, 128, 32, 64, 64),
    "tensor_tf32_async": TensorTiles(128, 128, 16, 64, 64, stages=2),
    "tensor_bf16_async": TensorTiles(128, 128, 16, 64, 64, stages=2),
}
TC_SMALL = {
    "tensor_tf32": TensorTiles(64, 64, 16, 32, 32),
    "tensor_bf16": TensorTiles(64, 64, 32, 32, 32),
    "tensor_tf32_async": TensorTiles(64, 64, 16, 32, 32, stages=4),
    "tensor_bf16_async": TensorTiles(64, 64, 16, 32, 32, stages=4),
}
TC_SIMULATED = TensorTiles(64, 32, 16, 32, 16)
TC_SIMULATED_ASYNC = TensorTiles(64, 32, 16, 32, 16, stages=3)
#: Below how many large blocks a rung takes its small tiles. Rungs 8 and 9: the H100's 132
#: multiprocessors (fewer blocks leave some idle). Rungs 10 and 11: 64, measured: at n = 1024 the
#: 64 large blocks (half the GPU idle) beat 256 small ones by 20-25%, a 64x64 warp tile doing
#: twice the mma per fragment read of a 32x32 one.
TC_FILL = {"tensor_tf32": 132, "tensor_bf16": 132, "tensor_tf32_async": 64, "tensor_bf16_async": 64}


def tensor_tiles_for(m: int, n: int, version: str = "tensor_tf32") -> TensorTiles:
    """The tiles a tensor-core rung uses for an (m, n) output (see TC_LARGE)."""
    if simulated():
        return TC_SIMULATED_ASYNC if version in _ASYNC else TC_SIMULATED
    large = TC_LARGE[version]
    blocks = math.ceil(m / large.BM) * math.ceil(n / large.BN)
    return large if blocks >= TC_FILL[version] else TC_SMALL[version]


_TENSOR_COMPILED: dict[TensorVariant, object] = {}


def tensor_kernel(tiles: TensorTiles, precision: str = "tf32", vec: int = 4, **options):
    """The tensor-core kernel for `tiles` in `precision` ('tf32' or 'bf16'), compiled once each:
    staged through registers (rungs 8, 9) for tiles of one stage, else through a cp.async
    pipeline (rungs 10, 11) copying `vec` floats (4 or 1) at a time, which also take the
    options of versions 6 and 7 (TensorVariant: activation, bias, trans_a, trans_b, mask,
    col_sums, split_k). Kernels of rungs 10 and 11 take (a, b, bias, mask, sums, work, counters,
    c, m, n, k_dim, n_split); those of rungs 8 and 9 (a, b, c, m, n, k_dim)."""
    if tiles.stages == 1:
        vec = 1
        if any(options.values()):
            raise ValueError(f"{tiles}: the register-staged rungs compute the plain product")
    variant = TensorVariant(tiles, precision, vec, **options)
    if variant not in _TENSOR_COMPILED:
        tiles.check()
        if precision == "bf16" and tiles.BK % 16:
            raise ValueError(f"{tiles}: the bf16 instruction takes 16 of K at a time: BK % 16")
        if tiles.stages > 1:
            if vec not in (1, 4):
                raise ValueError(f"copies of 1 or 4 floats, not {vec}")
            _TENSOR_COMPILED[variant] = _build_tensor_async(variant)
        else:
            build = {"tf32": _build_tensor, "bf16": _build_tensor_bf16}[precision]
            _TENSOR_COMPILED[variant] = build(tiles)
    return _TENSOR_COMPILED[variant]


def _warp_tile_epilogue(MI: int, NI: int, activation=None, bias=False, mask=False):
    """The epilogue of the tensor-core rungs: a warp's MI x NI mma tiles of accumulators
    (acc[(mi * NI + ni) * 4 + r]) into C, each lane its four values of the C fragment, rows g and
    g + 8, columns 2t and 2t + 1 of each tile; (i0, j0) is the warp tile's corner; edges guarded.
    On the way: + bias[j], the activation, and zero where mask[i, j] is not positive."""
    activate = EPILOGUES[activation]

    @cuda.jit(device=True, inline="always")
    def put(c, v, bias_vec, mask_vec, n, i, j):
        if bias:
            v += bias_vec[j]
        v = activate(v)
        if mask and not mask_vec[i * n + j] > float32(0.0):
            v = float32(0.0)
        c[i * n + j] = v

    @cuda.jit(device=True, inline="always")
    def store(c, acc, bias_vec, mask_vec, m, n, i0, j0, g, t):
        for mi in range(MI):
            for ni in range(NI):
                o = (mi * NI + ni) * 4
                j = j0 + uint32(ni * 8) + uint32(2) * t
                for half in range(2):  # rows g and g + 8 of the mma tile
                    i = i0 + uint32(mi * 16 + half * 8) + g
                    if i < m:
                        if j < n:
                            put(c, acc[o + 2 * half], bias_vec, mask_vec, n, i, j)
                        if j + uint32(1) < n:
                            put(c, acc[o + 2 * half + 1], bias_vec, mask_vec, n, i, j + uint32(1))

    return store


def _warp_tile_slices(MI: int, NI: int):
    """Split-K for the tensor-core rungs: publish(work, acc, z, ...) writes a warp's
    accumulators to slice z of the workspace; gather(work, acc, n_split, ...) sets them to the
    sum of every slice, in slice order (the same result whichever block finishes last)."""

    @cuda.jit(device=True, inline="always")
    def publish(work, acc, z, m, n, i0, j0, g, t):
        for mi in range(MI):
            for ni in range(NI):
                for r in range(4):  # c0..c3: rows g, g, g+8, g+8; columns 2t, 2t+1
                    i = i0 + uint32(mi * 16 + (r // 2) * 8) + g
                    j = j0 + uint32(ni * 8 + r % 2) + uint32(2) * t
                    if i < m and j < n:
                        work[(z * m + i) * n + j] = acc[(mi * NI + ni) * 4 + r]

    @cuda.jit(device=True, inline="always")
    def gather(work, acc, n_split, m, n, i0, j0, g, t):
        for mi in range(MI):
            for ni in range(NI):
                for r in range(4):
                    i = i0 + uint32(mi * 16 + (r // 2) * 8) + g
                    j = j0 + uint32(ni * 8 + r % 2) + uint32(2) * t
                    if i < m and j < n:
                        v = float32(0.0)
                        for zz in range(uint32(0), n_split):
                            v += work[(zz * m + i) * n + j]
                        acc[(mi * NI + ni) * 4 + r] = v

    return publish, gather


def _warp_mma(MI: int, NI: int, mma):
    """A warp's MI x NI mma tiles for one instruction's K: each pairs the fragments of A's
    mi-th 16 rows with B's ni-th 8 columns and adds into its four accumulators a lane."""

    @cuda.jit(device=True, inline="always")
    def multiply(frag_a, frag_b, acc):
        for mi in range(MI):
            for ni in range(NI):
                o = (mi * NI + ni) * 4
                d0, d1, d2, d3 = mma(
                    frag_a[mi * 4], frag_a[mi * 4 + 1], frag_a[mi * 4 + 2],
                    frag_a[mi * 4 + 3], frag_b[ni * 2], frag_b[ni * 2 + 1],
                    acc[o], acc[o + 1], acc[o + 2], acc[o + 3],
                )  # fmt: skip
                acc[o], acc[o + 1], acc[o + 2], acc[o + 3] = d0, d1, d2, d3

    return multiply


def _warp_place(tiles: TensorTiles):
    """Where a thread works in every tensor-core rung: (tid, g, t, wm, wn, row0, col0): its index
    in the block, its group and place in the warp (which fragment values it holds), its warp's
    tile (wm, wn) in the block's, and the block's tile (row0, col0) in C."""
    WARPS_N, WM, WN = tiles.BN // tiles.WN, uint32(tiles.WM), uint32(tiles.WN)
    U_BM, U_BN = uint32(tiles.BM), uint32(tiles.BN)

    @cuda.jit(device=True, inline="always")
    def place():
        tid = uint32(cuda.threadIdx.x)
        warp, lane = tid // uint32(32), tid % uint32(32)
        wm = (warp // uint32(WARPS_N)) * WM
        wn = (warp % uint32(WARPS_N)) * WN
        row0 = uint32(cuda.blockIdx.y) * U_BM
        col0 = uint32(cuda.blockIdx.x) * U_BN
        return tid, lane // uint32(4), lane % uint32(4), wm, wn, row0, col0

    return place


def _build_tensor(tiles: TensorTiles):
    BM, BN, BK, WM, WN = tiles.BM, tiles.BN, tiles.BK, tiles.WM, tiles.WN
    THREADS = tiles.threads
    MI, NI = WM // 16, WN // 8  # mma tiles per warp
    store, place = _warp_tile_epilogue(MI, NI), _warp_place(tiles)
    step, _ = _tf32_fragments_mma(tiles, round_on_read=False)  # rounded as they are staged
    LDA, LDB = BK + 4, BN + 8  # padded shared rows
    SA_SIZE, SB_SIZE = BM * LDA, BK * LDB
    LOADS_A, LOADS_B = BM * BK // THREADS, BK * BN // THREADS
    ACC, FRAG_A, FRAG_B = MI * NI * 4, MI * 4, NI * 2  # local array sizes: constants
    U_BN, U_BK, U_LDA, U_LDB = uint32(BN), uint32(BK), uint32(LDA), uint32(LDB)

    @cuda.jit(fastmath=True)
    def matmul_tensor_tf32(a, b, c, m, n, k_dim):
        # a: (m*k_dim,), b: (k_dim*n,), c: (m*n,) row-major; m, n, k_dim: uint32
        sa = cuda.shared.array(SA_SIZE, float32)  # sa[row * LDA + k]
        sb = cuda.shared.array(SB_SIZE, float32)  # sb[k * LDB + col]
        next_a = cuda.local.array(LOADS_A, float32)  # the next step's values, in flight
        next_b = cuda.local.array(LOADS_B, float32)
        frag_a = cuda.local.array(FRAG_A, float32)
        frag_b = cuda.local.array(FRAG_B, float32)
        acc = cuda.local.array(ACC, float32)  # acc[(mi * NI + ni) * 4 + r]
        tid, g, t, wm, wn, row0, col0 = place()
        for i in range(ACC):
            acc[i] = 0.0
        for l in range(LOADS_A):  # the first step's values
            e = tid + uint32(l * THREADS)
            gi, gk = row0 + e // U_BK, e % U_BK
            next_a[l] = a[gi * k_dim + gk] if gi < m and gk < k_dim else float32(0.0)
        for l in range(LOADS_B):
            e = tid + uint32(l * THREADS)
            gk, gj = e // U_BN, col0 + e % U_BN
            next_b[l] = b[gk * n + gj] if gk < k_dim and gj < n else float32(0.0)
        for k0 in range(uint32(0), k_dim, U_BK):
            for l in range(LOADS_A):
                e = tid + uint32(l * THREADS)
                sa[(e // U_BK) * U_LDA + e % U_BK] = tf32(next_a[l])
            for l in range(LOADS_B):
                e = tid + uint32(l * THREADS)
                sb[(e // U_BN) * U_LDB + e % U_BN] = tf32(next_b[l])
            cuda.syncthreads()
            k1 = k0 + U_BK
            if k1 < k_dim:  # start the next step's loads: they arrive while the mma run
                for l in range(LOADS_A):
                    e = tid + uint32(l * THREADS)
                    gi, gk = row0 + e // U_BK, k1 + e % U_BK
                    next_a[l] = a[gi * k_dim + gk] if gi < m and gk < k_dim else float32(0.0)
                for l in range(LOADS_B):
                    e = tid + uint32(l * THREADS)
                    gk, gj = k1 + e // U_BN, col0 + e % U_BN
                    next_b[l] = b[gk * n + gj] if gk < k_dim and gj < n else float32(0.0)
            step(sa, sb, uint32(0), uint32(0), wm, wn, g, t, frag_a, frag_b, acc)
            cuda.syncthreads()
        store(c, acc, c, c, m, n, row0 + wm, col0 + wn, g, t)

    return matmul_tensor_tf32


# 9. tensor_bf16: the same block and warp tiles with mma.sync m16n8k16 in bfloat16: inputs
# rounded to 8 mantissa bits (float32's exponent, so nothing overflows that float32 holds),
# products summed in float32, 16 of K per instruction: half the instructions of TF32 for the
# same work. Each 32-bit register holds a pair of bfloat16 values adjacent along K, so both tiles
# are staged as packed pairs: A as [row][k/2] (a row's neighbours along K), B as [k/2][column]
# (two rows of B packed into one), converted once by cvt.rn.bf16x2 as they arrive.
def _build_tensor_bf16(tiles: TensorTiles):
    BM, BN, BK, WM, WN = tiles.BM, tiles.BN, tiles.BK, tiles.WM, tiles.WN
    THREADS = tiles.threads
    MI, NI = WM // 16, WN // 8
    store, place = _warp_tile_epilogue(MI, NI), _warp_place(tiles)
    multiply = _warp_mma(MI, NI, mma_bf16)
    HALF_K = BK // 2  # pairs along K per step
    LDA, LDB = HALF_K + 4, BN + 8  # padded shared rows, in pairs
    SA_SIZE, SB_SIZE = BM * LDA, HALF_K * LDB
    PAIRS_A, PAIRS_B = BM * HALF_K // THREADS, HALF_K * BN // THREADS
    NEXT_A, NEXT_B = 2 * PAIRS_A, 2 * PAIRS_B
    ACC, FRAG_A, FRAG_B = MI * NI * 4, MI * 4, NI * 2
    U_BN, U_HK, U_LDA, U_LDB = (
        uint32(BN),
        uint32(HALF_K),
        uint32(LDA),
        uint32(LDB),
    )
    U_BK = uint32(BK)

    @cuda.jit(fastmath=True)
    def matmul_tensor_bf16(a, b, c, m, n, k_dim):
        # a: (m*k_dim,), b: (k_dim*n,), c: (m*n,) row-major; m, n, k_dim: uint32
        sa = cuda.shared.array(SA_SIZE, uint32)  # sa[row * LDA + k/2]: A[row, k], A[row, k+1]
        sb = cuda.shared.array(SB_SIZE, uint32)  # sb[k/2 * LDB + col]: B[k, col], B[k+1, col]
        next_a = cuda.local.array(NEXT_A, float32)  # the next step's values, in flight
        next_b = cuda.local.array(NEXT_B, float32)
        frag_a = cuda.local.array(FRAG_A, uint32)
        frag_b = cuda.local.array(FRAG_B, uint32)
        acc = cuda.local.array(ACC, float32)
        tid, g, t, wm, wn, row0, col0 = place()
        for i in range(ACC):
            acc[i] = 0.0
        for k0 in range(uint32(0), k_dim + U_BK, U_BK):
            if k0 > uint32(0):  # stage what was loaded for this step, packed in pairs
                for l in range(PAIRS_A):
                    e = tid + uint32(l * THREADS)
                    sa[(e // U_HK) * U_LDA + e % U_HK] = bf16x2(next_a[2 * l + 1], next_a[2 * l])
                for l in range(PAIRS_B):
                    e = tid + uint32(l * THREADS)
                    sb[(e // U_BN) * U_LDB + e % U_BN] = bf16x2(next_b[2 * l + 1], next_b[2 * l])
                cuda.syncthreads()
            if k0 < k_dim:  # load the values of step k0 (they arrive while step k0 - BK runs)
                for l in range(PAIRS_A):
                    e = tid + uint32(l * THREADS)
                    gi, gk = row0 + e // U_HK, k0 + uint32(2) * (e % U_HK)
                    inside = gi < m
                    next_a[2 * l] = a[gi * k_dim + gk] if inside and gk < k_dim else float32(0.0)
                    gk1 = gk + uint32(1)
                    next_a[2 * l + 1] = (
                        a[gi * k_dim + gk1] if inside and gk1 < k_dim else float32(0.0)
                    )
                for l in range(PAIRS_B):
                    e = tid + uint32(l * THREADS)
                    gk, gj = k0 + uint32(2) * (e // U_BN), col0 + e % U_BN
                    inside = gj < n
                    next_b[2 * l] = b[gk * n + gj] if inside and gk < k_dim else float32(0.0)
                    gk1 = gk + uint32(1)
                    next_b[2 * l + 1] = b[gk1 * n + gj] if inside and gk1 < k_dim else float32(0.0)
            if k0 > uint32(0):
                for kp in range(0, HALF_K, 8):  # 16 of K, 8 pairs, per instruction
                    for mi in range(MI):
                        ra = (wm + uint32(mi * 16) + g) * U_LDA + uint32(kp) + t
                        frag_a[mi * 4] = sa[ra]
                        frag_a[mi * 4 + 1] = sa[ra + uint32(8 * LDA)]
                        frag_a[mi * 4 + 2] = sa[ra + uint32(4)]
                        frag_a[mi * 4 + 3] = sa[ra + uint32(8 * LDA + 4)]
                    for ni in range(NI):
                        cb = (uint32(kp) + t) * U_LDB + wn + uint32(ni * 8) + g
                        frag_b[ni * 2] = sb[cb]
                        frag_b[ni * 2 + 1] = sb[cb + uint32(4 * LDB)]
                    multiply(frag_a, frag_b, acc)
                cuda.syncthreads()
        store(c, acc, c, c, m, n, row0 + wm, col0 + wn, g, t)

    return matmul_tensor_bf16


# 10. tensor_tf32_async and 11. tensor_bf16_async: rungs 8 and 9 fed by a pipeline of cp.async
# copies (async_copy.py). Rungs 8 and 9 move the next tile global -> registers -> shared: each
# thread holds its share of the tile in flight in registers, and it waits for them before it can
# store them. Here the copies go straight to shared memory, with no registers held and nothing to
# wait for until the data is needed, so a block keeps STAGES - 1 tiles in flight while it
# multiplies the current one: shared memory holds STAGES buffers, used in turn. Per step: wait
# until this thread's copies of the current tile have landed, a barrier (everyone's have, and
# everyone is done with the buffer multiplied last step), issue the copies of the tile STAGES - 1
# steps ahead into that free buffer, multiply. The tiles stay float32 in shared memory (the copy
# cannot convert): the rounding to TF32, or to bfloat16 pairs, moves to the fragment reads. Rows
# whose length is a multiple of 4 floats copy 16 bytes at a time (copy16), others 4 (copy4); a
# copy off the matrix's edge reads nothing and fills zeros.
@cuda.jit(device=True, inline="always")
def _as_staged(x):
    return x


def _shared_layout(tiles: TensorTiles, trans_a: bool = False, trans_b: bool = False):
    """Row lengths (floats) of the float32 tiles in shared memory, padded so that the 32 lanes
    of a fragment read hit 32 banks and every row starts on 16 bytes: A as [row][k] (BK + 4), or
    as stored [k][row] when transposed (BM + 8); B as [k][column] (BN + 8), or [column][k]
    (BK + 4) when transposed. Returns (LDA, LDB, floats of one stage of A, of B)."""
    lda = tiles.BM + 8 if trans_a else tiles.BK + 4
    ldb = tiles.BK + 4 if trans_b else tiles.BN + 8
    stage_a = tiles.BK * lda if trans_a else tiles.BM * lda
    stage_b = tiles.BN * ldb if trans_b else tiles.BK * ldb
    return lda, ldb, stage_a, stage_b


def _fragment_addresses(tiles: TensorTiles, trans_a: bool = False, trans_b: bool = False):
    """a_at(base, r, k) and b_at(base, k, j): where A[r, k] and B[k, j] of the block's tiles sit
    in shared memory, for either layout of each (_shared_layout)."""
    lda, ldb, _, _ = _shared_layout(tiles, trans_a, trans_b)
    U_LDA, U_LDB = uint32(lda), uint32(ldb)

    @cuda.jit(device=True, inline="always")
    def a_at(base, r, k):
        return base + (k * U_LDA + r if trans_a else r * U_LDA + k)

    @cuda.jit(device=True, inline="always")
    def b_at(base, k, j):
        return base + (j * U_LDB + k if trans_b else k * U_LDB + j)

    return a_at, b_at


def _tf32_fragments_mma(tiles: TensorTiles, round_on_read=True, trans_a=False, trans_b=False):
    """One buffer's BK of K for one warp in TF32: fragments from the float32 tiles (rounded as
    they are read, unless they were rounded as they were staged), then (WM/16)(WN/8) mma per 8
    of K. The buffer starts at base_a, base_b; layouts as _shared_layout."""
    BK, MI, NI = tiles.BK, tiles.WM // 16, tiles.WN // 8
    a_at, b_at = _fragment_addresses(tiles, trans_a, trans_b)
    tf32_of = tf32 if round_on_read else _as_staged
    multiply = _warp_mma(MI, NI, mma_tf32)
    U4, U8 = uint32(4), uint32(8)

    @cuda.jit(device=True, inline="always")
    def step(sa, sb, base_a, base_b, wm, wn, g, t, frag_a, frag_b, acc):
        for kk in range(0, BK, 8):
            k = uint32(kk) + t
            for mi in range(MI):
                r = wm + uint32(mi * 16) + g
                frag_a[mi * 4] = tf32_of(sa[a_at(base_a, r, k)])
                frag_a[mi * 4 + 1] = tf32_of(sa[a_at(base_a, r + U8, k)])
                frag_a[mi * 4 + 2] = tf32_of(sa[a_at(base_a, r, k + U4)])
                frag_a[mi * 4 + 3] = tf32_of(sa[a_at(base_a, r + U8, k + U4)])
            for ni in range(NI):
                j = wn + uint32(ni * 8) + g
                frag_b[ni * 2] = tf32_of(sb[b_at(base_b, k, j)])
                frag_b[ni * 2 + 1] = tf32_of(sb[b_at(base_b, k + U4, j)])
            multiply(frag_a, frag_b, acc)

    return step, float32


def _bf16_fragments_mma(tiles: TensorTiles, trans_a=False, trans_b=False):
    """The same in bfloat16: each register a pair of neighbours along K, rounded and packed
    (cvt.rn.bf16x2, the higher k in the high half) as it is read, 16 of K per mma."""
    BK, MI, NI = tiles.BK, tiles.WM // 16, tiles.WN // 8
    a_at, b_at = _fragment_addresses(tiles, trans_a, trans_b)
    multiply = _warp_mma(MI, NI, mma_bf16)
    U1, U8 = uint32(1), uint32(8)

    @cuda.jit(device=True, inline="always")
    def pair_a(sa, base, r, k):  # A[r, k], A[r, k + 1]
        return bf16x2(sa[a_at(base, r, k + U1)], sa[a_at(base, r, k)])

    @cuda.jit(device=True, inline="always")
    def pair_b(sb, base, k, j):  # B[k, j], B[k + 1, j]
        return bf16x2(sb[b_at(base, k + U1, j)], sb[b_at(base, k, j)])

    @cuda.jit(device=True, inline="always")
    def step(sa, sb, base_a, base_b, wm, wn, g, t, frag_a, frag_b, acc):
        for kk in range(0, BK, 16):
            k = uint32(kk) + uint32(2) * t
            for mi in range(MI):
                r = wm + uint32(mi * 16) + g
                frag_a[mi * 4] = pair_a(sa, base_a, r, k)
                frag_a[mi * 4 + 1] = pair_a(sa, base_a, r + U8, k)
                frag_a[mi * 4 + 2] = pair_a(sa, base_a, r, k + U8)
                frag_a[mi * 4 + 3] = pair_a(sa, base_a, r + U8, k + U8)
            for ni in range(NI):
                j = wn + uint32(ni * 8) + g
                frag_b[ni * 2] = pair_b(sb, base_b, k, j)
                frag_b[ni * 2 + 1] = pair_b(sb, base_b, k + U8, j)
            multiply(frag_a, frag_b, acc)

    return step, uint32


def _options_text(variant) -> str:
    """' +relu +bias +trans_a ...': the epilogue and layout options a kernel variant was built
    with (GemmVariant and TensorVariant), for its name."""
    flags = ("bias", "trans_a", "trans_b", "mask", "col_sums", "split_k")
    extras = f" +{variant.activation}" if variant.activation else ""
    return extras + "".join(f" +{name}" for name in flags if getattr(variant, name))


@dataclass(frozen=True)
class TensorVariant:
    """What one compiled kernel of rungs 10 and 11 was built for: its tiles and precision, the
    copy width, and the same operand layouts and epilogue as versions 6 and 7 (GemmVariant), so
    that Phase 5's training step can run on the tensor cores."""

    tiles: TensorTiles
    precision: str = "tf32"
    vec: int = 4
    activation: str | None = None
    bias: bool = False
    trans_a: bool = False
    trans_b: bool = False
    mask: bool = False
    col_sums: bool = False
    split_k: bool = False

    def __str__(self) -> str:
        extras = _options_text(self)
        copy = " copy4" if self.vec == 1 else ""
        return f"tensor_{self.precision}_async {self.tiles}{copy}{extras}"


def _build_tensor_async(variant: TensorVariant):
    tiles, precision, vec = variant.tiles, variant.precision, variant.vec
    BM, BN, BK, WM, WN, STAGES = tiles.BM, tiles.BN, tiles.BK, tiles.WM, tiles.WN, tiles.stages
    TA, TB = variant.trans_a, variant.trans_b
    HAS_BIAS, HAS_MASK, COLSUM, SPLIT_K = (
        variant.bias,
        variant.mask,
        variant.col_sums,
        variant.split_k,
    )
    check_activation(variant.activation)
    if COLSUM and (TB or SPLIT_K or tiles.threads < BN):
        raise ValueError(
            f"{variant}: col_sums needs B as stored (not trans_b), no split-K, BN threads or more"
        )
    THREADS = tiles.threads
    MI, NI = WM // 16, WN // 8
    store = _warp_tile_epilogue(MI, NI, variant.activation, HAS_BIAS, HAS_MASK)
    publish, gather = _warp_tile_slices(MI, NI)
    place = _warp_place(tiles)
    if precision == "tf32":
        step, frag_type = _tf32_fragments_mma(tiles, True, TA, TB)
    else:
        step, frag_type = _bf16_fragments_mma(tiles, TA, TB)
    copy = copy16 if vec == 4 else copy4
    LDA, LDB, STAGE_A, STAGE_B = _shared_layout(tiles, TA, TB)
    SA_SIZE, SB_SIZE = STAGES * STAGE_A, STAGES * STAGE_B  # (array sizes: constants)
    if 4 * (SA_SIZE + SB_SIZE) > SHARED_LIMIT:
        raise ValueError(f"{variant}: {4 * (SA_SIZE + SB_SIZE)} bytes of shared memory")
    COPIES_A, COPIES_B = BM * BK // (vec * THREADS), BK * BN // (vec * THREADS)
    ACC, FRAG_A, FRAG_B = MI * NI * 4, MI * 4, NI * 2
    U_BK, U_BN, U_LDA, U_LDB = uint32(BK), uint32(BN), uint32(LDA), uint32(LDB)
    # copies per stored row of each tile: along K for A (along M when transposed), along N for
    # B (along K when transposed)
    U_ROW_A = uint32((BM if TA else BK) // vec)
    U_ROW_B = uint32((BK if TB else BN) // vec)
    U_VEC = uint32(vec)
    PENDING = STAGES - 2  # copy groups still in flight when a step's tile must have landed

    @cuda.jit(device=True, inline="always")
    def issue(sa, sb, a, b, s, k0, tid, row0, col0, m, n, k_dim, k_end):
        """Start the copies of the tiles at k0 into buffer s % STAGES."""
        slot = s % uint32(STAGES)
        for l in range(COPIES_A):
            e = tid + uint32(l * THREADS)
            rr, cc = e // U_ROW_A, (e % U_ROW_A) * U_VEC  # stored row and column in the tile
            if TA:  # A stored (K, M): rows are k
                gk, gi = k0 + rr, row0 + cc
                inside = gk < k_end and gi < m
                src = gk * m + gi if inside else uint32(0)
            else:
                gi, gk = row0 + rr, k0 + cc
                inside = gi < m and gk < k_end
                src = gi * k_dim + gk if inside else uint32(0)
            copy(sa, slot * uint32(STAGE_A) + rr * U_LDA + cc, a, src, inside)
        for l in range(COPIES_B):
            e = tid + uint32(l * THREADS)
            rr, cc = e // U_ROW_B, (e % U_ROW_B) * U_VEC
            if TB:  # B stored (N, K): rows are columns of op(B)
                gj, gk = col0 + rr, k0 + cc
                inside = gj < n and gk < k_end
                src = gj * k_dim + gk if inside else uint32(0)
            else:
                gk, gj = k0 + rr, col0 + cc
                inside = gk < k_end and gj < n
                src = gk * n + gj if inside else uint32(0)
            copy(sb, slot * uint32(STAGE_B) + rr * U_LDB + cc, b, src, inside)

    @cached
    @cuda.jit(fastmath=True)
    def matmul_tensor_async(a, b, bias_vec, mask_vec, sums, work, counters, c, m, n, k_dim,
                            n_split):  # fmt: skip
        # a: (m*k_dim,) A, row-major (K, M) when TA; b: (k_dim*n,) B, (N, K) when TB;
        # bias_vec: (n,); mask_vec: (m*n,); sums: (n,) (each unused unless its flag is set);
        # work: (n_split*m*n,) partial tiles, counters: (tiles,) int32 zeros (split-K only);
        # c: (m*n,); m, n, k_dim, n_split: uint32
        sa = cuda.shared.array(SA_SIZE, float32, alignment=SHARED_ALIGN)
        sb = cuda.shared.array(SB_SIZE, float32, alignment=SHARED_ALIGN)
        frag_a = cuda.local.array(FRAG_A, frag_type)
        frag_b = cuda.local.array(FRAG_B, frag_type)
        acc = cuda.local.array(ACC, float32)
        tid, g, t, wm, wn, row0, col0 = place()
        for i in range(ACC):
            acc[i] = 0.0
        # This block's slice of K: all of it, or (split-K) whole tiles of it for slice blockIdx.z
        k_begin, k_end = uint32(0), k_dim
        split = SPLIT_K and n_split > uint32(1)
        if split:
            per = (k_dim + n_split * U_BK - uint32(1)) // (n_split * U_BK) * U_BK
            k_begin = min(uint32(cuda.blockIdx.z) * per, k_dim)
            k_end = min(k_begin + per, k_dim)
        steps = (k_end - k_begin + U_BK - uint32(1)) // U_BK
        col_sum = float32(0.0)
        sums_here = COLSUM and cuda.blockIdx.y == 0 and tid < U_BN
        for s in range(STAGES - 1):  # fill the pipeline: one group of copies per stage
            if uint32(s) < steps:
                k0 = k_begin + uint32(s) * U_BK
                issue(sa, sb, a, b, uint32(s), k0, tid, row0, col0, m, n, k_dim, k_end)
            commit()
        for s in range(uint32(0), steps):
            wait(PENDING)  # this thread's copies of step s have landed
            cuda.syncthreads()  # everyone's have; everyone is done with the buffer of step s-1
            ahead = s + uint32(STAGES - 1)
            if ahead < steps:
                k0 = k_begin + ahead * U_BK
                issue(sa, sb, a, b, ahead, k0, tid, row0, col0, m, n, k_dim, k_end)
            commit()  # (an empty group at the end keeps the count)
            slot = s % uint32(STAGES)
            if sums_here:  # column tid of this B tile; rows past K were filled with zeros
                for kk in range(BK):
                    col_sum += sb[slot * uint32(STAGE_B) + uint32(kk) * U_LDB + tid]
            step(sa, sb, slot * uint32(STAGE_A), slot * uint32(STAGE_B), wm, wn, g, t,
                 frag_a, frag_b, acc)  # fmt: skip
        i0, j0 = row0 + wm, col0 + wn
        if split:  # the same protocol as versions 6 and 7 (gemm_kernel)
            publish(work, acc, uint32(cuda.blockIdx.z), m, n, i0, j0, g, t)
            cuda.threadfence()
            last = cuda.shared.array(1, int32)
            cuda.syncthreads()
            tile_id = cuda.blockIdx.y * cuda.gridDim.x + cuda.blockIdx.x
            if tid == 0:
                last[0] = cuda.atomic.add(counters, tile_id, 1) == n_split - uint32(1)
            cuda.syncthreads()
            if last[0] == 0:
                return
            cuda.threadfence()
            gather(work, acc, n_split, m, n, i0, j0, g, t)
            if tid == 0:
                counters[tile_id] = 0
        if sums_here and col0 + tid < n:
            sums[col0 + tid] = col_sum
        store(c, acc, bias_vec, mask_vec, m, n, i0, j0, g, t)

    return matmul_tensor_async


# ------------------------------------------------------------------------------------------------
# 6. double_buffered and 7. wide: one kernel factory; `wide` switches the thread-to-output map
@dataclass(frozen=True)
class Tiles:
    """Block tile BM x BN, BK deep; each thread computes TM x TN outputs."""

    BM: int = 128
    BN: int = 128
    BK: int = 8
    TM: int = 8
    TN: int = 8
    #: blocks that must fit on one multiprocessor at once (`launch_bounds`): 2 caps a 256-thread
    #: kernel at 128 registers, so two blocks share an SM and hide each other's waits.
    min_blocks: int = 1
    #: load the next step's operands from shared memory while this step's FMAs run (wide only)
    prefetch: bool = False

    @property
    def threads(self) -> int:
        return (self.BM // self.TM) * (self.BN // self.TN)

    def check(self) -> None:
        t = self.threads
        ok = (
            self.BM % self.TM == 0
            and self.BN % self.TN == 0
            and (self.BM * self.BK) % t == 0
            and (self.BK * self.BN) % t == 0
            and 32 <= t <= 1024
        )
        if not ok:
            raise ValueError(f"{self}: tiles must divide evenly among 32..1024 threads")

    def __str__(self) -> str:
        bound = f" min{self.min_blocks}" if self.min_blocks > 1 else ""
        pre = " prefetch" if self.prefetch else ""
        return f"{self.BM}x{self.BN}x{self.BK}/{self.TM}x{self.TN}{bound}{pre}"


# The epilogue's activations: what versions 6 and 7 (and so the dense layer) can apply to each
# output while it is still in a register. Their names are the one list of activations on the GPU.
@cuda.jit(device=True, inline="always")
def identity(v):
    return v


@cuda.jit(device=True, inline="always")
def relu(v):
    return max(v, float32(0.0))


@cuda.jit(device=True, inline="always")
def sigmoid(v):
    return float32(1.0) / (float32(1.0) + math.exp(-v))


@cuda.jit(device=True, inline="always")
def tanh(v):
    return math.tanh(v)


EPILOGUES = {None: identity, "relu": relu, "sigmoid": sigmoid, "tanh": tanh}
#: The activation names the fused epilogue accepts (None: the plain product).
ACTIVATIONS: tuple[str | None, ...] = tuple(EPILOGUES)


def check_activation(activation: str | None) -> None:
    if activation not in EPILOGUES:
        raise ValueError(f"activation must be one of {list(ACTIVATIONS)}, got {activation!r}")


@dataclass(frozen=True)
class GemmVariant:
    """What one compiled kernel of versions 6 and 7 was built for: its tiles, the thread map
    (`wide`), the operand layout and the epilogue. numba freezes all of it into the code."""

    tiles: Tiles
    wide: bool = True
    activation: str | None = None
    bias: bool = False
    trans_a: bool = False
    trans_b: bool = False
    mask: bool = False
    col_sums: bool = False
    split_k: bool = False

    def __str__(self) -> str:
        extras = _options_text(self)
        return f"{'wide' if self.wide else 'double_buffered'} {self.tiles}{extras}"


_COMPILED: dict[GemmVariant, object] = {}


def gemm_kernel(tiles: Tiles, wide: bool = True, **options):
    """The kernel of version 7 (`wide`) or 6 (not `wide`) for `tiles`, compiled once per
    variant (see GemmVariant for the options: activation, bias, trans_a, trans_b, mask,
    col_sums, split_k).

    It computes C = op(A) @ op(B), op(X) being X.T where `trans_a` / `trans_b` says so, then in
    its epilogue adds `bias`, applies `activation` and, with `mask`, zeroes every element whose
    mask element is not positive: act(A @ B + bias) is Phase 4's fused dense layer, and
    (delta @ W.T) * (h > 0) is backpropagation through a ReLU (Phase 5). With `col_sums` the
    blocks of the first block row also write the column sums of op(B) (a bias gradient, when B
    holds the output gradients) from the tiles they already have in shared memory.

    With `split_k` (for products too small to give every multiprocessor a block), the K loop is
    cut into `n_split` slices (a launch argument, so one compiled kernel serves every count),
    one per blockIdx.z. Each block publishes its partial tile to a workspace; the last block to
    finish a tile (an atomic counter per tile, after a memory fence) adds the slices up in slice
    order, so the result does not depend on which block came last, runs the epilogue, and resets
    the counter for the next launch.

    The variant is made of closure constants, which numba freezes into the compiled code, so
    every loop below has constant bounds and is unrolled, the local arrays stay in registers, and
    the branch not taken disappears. The kernel is a short sequence of named device functions
    (inlined, so they cost nothing): fetch / stash a tile, multiply it, publish / sum the split-K
    slices, and the epilogue. Indices are unsigned. Transposed operands take the bounds-checked
    scalar loads (coalesced along their own rows).

    Thread (ty, tx) owns rows ty + TROWS r (strided) or, when `wide`, the runs of 4 rows
    4 ty + 4 TROWS h + (0..3); columns likewise with tx.
    """
    variant = GemmVariant(tiles, wide, **options)
    if variant not in _COMPILED:
        _COMPILED[variant] = _build_gemm(variant)
    return _COMPILED[variant]


def _build_gemm(variant: GemmVariant):
    tiles, wide = variant.tiles, variant.wide
    tiles.check()
    if variant.col_sums and tiles.threads < tiles.BN:
        raise ValueError(f"{tiles}: col_sums needs at least BN threads")
    if wide and (tiles.TM % 4 or tiles.TN % 4):
        raise ValueError(f"{tiles}: the wide version needs TM and TN divisible by 4")
    if tiles.prefetch and (not wide or tiles.BK % 2):
        raise ValueError(f"{tiles}: prefetch needs the wide version and an even BK")
    check_activation(variant.activation)
    activate = EPILOGUES[variant.activation]
    BM, BN, BK, TM, TN = tiles.BM, tiles.BN, tiles.BK, tiles.TM, tiles.TN
    TROWS, TCOLS = BM // TM, BN // TN
    THREADS = tiles.threads
    LOAD_A, LOAD_B = BM * BK // THREADS, BK * BN // THREADS
    TA, TB = variant.trans_a, variant.trans_b
    HAS_BIAS, HAS_MASK, COLSUM = variant.bias, variant.mask, variant.col_sums
    SPLIT_K, PREFETCH, WIDE = variant.split_k, tiles.prefetch, wide
    # A is stored transposed, one row of LDA floats per k. The 4 floats of padding shift each row
    # by 4 banks: the transposing stores (a warp writes 8 k-rows x 4 rows of A) hit 32 different
    # banks instead of 4, and rows stay 16-byte aligned for the 128-bit loads.
    LDA = BM + 4
    # B is stored [k][column of B]. A transposed B is written across k, so it gets the same
    # padding as A; a plain B is written along its rows and needs none.
    LDB = BN + 4 if TB else BN
    SA, SB = BK * LDA, BK * LDB  # one buffer of each, in elements
    SA2, SB2 = 2 * SA, 2 * SB  # shared-array sizes must be constants, not expressions
    uLDA, uLDB = np.uint32(LDA), np.uint32(LDB)
    # Scalar loads of A (and of a transposed B) run along k, KQ elements per row and 32 // KQ rows
    # per warp: 32-byte pieces of 4 rows in global memory, 32 different banks in shared memory.
    KQ = 8 if BK % 8 == 0 else BK
    uKQ = np.uint32(KQ)
    # Interior blocks of aligned operands load their tiles 4 floats at a time (load4 on global
    # memory: one 128-bit load) with no bounds checks; edge blocks take the checked scalar path.
    VEC = (
        wide
        and not (TA or TB)
        and BK % 4 == 0
        and (BM * BK) % (4 * THREADS) == 0
        and (BK * BN) % (4 * THREADS) == 0
    )
    LOAD_A4, LOAD_B4 = LOAD_A // 4, LOAD_B // 4
    uBK4, uBN4, u4 = np.uint32(BK // 4), np.uint32(BN // 4), np.uint32(4)
    uBM, uBN, uBK, uTCOLS = np.uint32(BM), np.uint32(BN), np.uint32(BK), np.uint32(TCOLS)
    uSA, uSB = np.uint32(SA), np.uint32(SB)
    # the offset of a thread's r-th row (q-th column) from its first one, as a constant
    ROW_OFF = tuple((r // 4) * 4 * TROWS + r % 4 if wide else r * TROWS for r in range(TM))
    COL_OFF = tuple((q // 4) * 4 * TCOLS + q % 4 if wide else q * TCOLS for q in range(TN))
    uSTEP = np.uint32(4 if wide else 1)  # a thread's first row is ty * uSTEP

    # -- load: global memory -> registers -> shared memory ------------------------------------
    @cuda.jit(device=True, inline="always")
    def fetch(a, b, k0, row0, col0, t, m, n, k_dim, k_end, fast, next_a, next_b):
        # k_end: where this block's slice of K ends (k_dim without split-K)
        # global -> registers: this thread's share of the A tile (BM x BK) and B tile (BK x BN)
        if VEC and fast:
            for l in range(LOAD_A4):
                e = t + uint32(l * THREADS)
                x = load4(a, (row0 + e // uBK4) * k_dim + k0 + (e % uBK4) * u4)
                for i in range(4):
                    next_a[4 * l + i] = x[i]
            for l in range(LOAD_B4):
                e = t + uint32(l * THREADS)
                x = load4(b, (k0 + e // uBN4) * n + col0 + (e % uBN4) * u4)
                for i in range(4):
                    next_b[4 * l + i] = x[i]
        else:  # consecutive threads read consecutive elements of a stored row
            for l in range(LOAD_A):
                e = t + uint32(l * THREADS)
                if TA:  # A stored (K, M): a row of it is a column of op(A)
                    gk, gi = k0 + e // uBM, row0 + e % uBM
                    next_a[l] = a[gk * m + gi] if gi < m and gk < k_end else float32(0.0)
                else:
                    rest = e // uKQ
                    gi, gk = row0 + rest % uBM, k0 + (rest // uBM) * uKQ + e % uKQ
                    next_a[l] = a[gi * k_dim + gk] if gi < m and gk < k_end else float32(0.0)
            for l in range(LOAD_B):
                e = t + uint32(l * THREADS)
                if TB:  # B stored (N, K)
                    rest = e // uKQ
                    gj, gk = col0 + rest % uBN, k0 + (rest // uBN) * uKQ + e % uKQ
                    next_b[l] = b[gj * k_dim + gk] if gk < k_end and gj < n else float32(0.0)
                else:
                    gk, gj = k0 + e // uBN, col0 + e % uBN
                    next_b[l] = b[gk * n + gj] if gk < k_end and gj < n else float32(0.0)

    @cuda.jit(device=True, inline="always")
    def stash(sa, sb, off_a, off_b, t, fast, next_a, next_b):
        # registers -> one shared buffer (A transposed), in the layout `fetch` loaded
        if VEC and fast:
            for l in range(LOAD_A4):
                e = t + uint32(l * THREADS)
                row, k = e // uBK4, (e % uBK4) * u4
                for i in range(4):
                    sa[off_a + (k + uint32(i)) * uLDA + row] = next_a[4 * l + i]
            for l in range(LOAD_B4):
                e = t + uint32(l * THREADS)
                k, col = e // uBN4, (e % uBN4) * u4
                for i in range(4):
                    sb[off_b + k * uBN + col + uint32(i)] = next_b[4 * l + i]
        else:
            for l in range(LOAD_A):
                e = t + uint32(l * THREADS)
                if TA:
                    sa[off_a + (e // uBM) * uLDA + e % uBM] = next_a[l]
                else:
                    rest = e // uKQ
                    sa[off_a + ((rest // uBM) * uKQ + e % uKQ) * uLDA + rest % uBM] = next_a[l]
            for l in range(LOAD_B):
                e = t + uint32(l * THREADS)
                if TB:
                    rest = e // uKQ
                    sb[off_b + ((rest // uBN) * uKQ + e % uKQ) * uLDB + rest % uBN] = next_b[l]
                else:
                    sb[off_b + e] = next_b[l]

    # -- multiply: one tile of K from shared memory into the thread's accumulators ------------
    @cuda.jit(device=True, inline="always")
    def load_operands(sa, sb, base_a, base_b, kk, reg_a, reg_b):
        # the thread's TM values of A and TN values of B at step kk
        if WIDE:  # 4 adjacent rows / columns per 128-bit load
            for h in range(TM // 4):
                x0, x1, x2, x3 = load4(sa, base_a + uint32(kk * LDA + ROW_OFF[4 * h]))
                reg_a[4 * h] = x0
                reg_a[4 * h + 1] = x1
                reg_a[4 * h + 2] = x2
                reg_a[4 * h + 3] = x3
            for h in range(TN // 4):
                x0, x1, x2, x3 = load4(sb, base_b + uint32(kk * LDB + COL_OFF[4 * h]))
                reg_b[4 * h] = x0
                reg_b[4 * h + 1] = x1
                reg_b[4 * h + 2] = x2
                reg_b[4 * h + 3] = x3
        else:
            for r in range(TM):
                reg_a[r] = sa[base_a + uint32(kk * LDA + ROW_OFF[r])]
            for q in range(TN):
                reg_b[q] = sb[base_b + uint32(kk * LDB + COL_OFF[q])]

    @cuda.jit(device=True, inline="always")
    def outer_product(acc, reg_a, reg_b):
        for r in range(TM):
            for q in range(TN):
                acc[r, q] += reg_a[r] * reg_b[q]

    @cuda.jit(device=True, inline="always")
    def multiply_tile(sa, sb, base_a, base_b, acc, reg_a, reg_b, reg_a2, reg_b2):
        if PREFETCH:  # two steps of k per iteration, each loading the other's operands
            load_operands(sa, sb, base_a, base_b, 0, reg_a, reg_b)
            for kk in range(0, BK, 2):
                load_operands(sa, sb, base_a, base_b, kk + 1, reg_a2, reg_b2)
                outer_product(acc, reg_a, reg_b)
                if kk + 2 < BK:
                    load_operands(sa, sb, base_a, base_b, kk + 2, reg_a, reg_b)
                outer_product(acc, reg_a2, reg_b2)
        else:
            for kk in range(BK):
                load_operands(sa, sb, base_a, base_b, kk, reg_a, reg_b)
                outer_product(acc, reg_a, reg_b)

    # -- split-K: publish this block's slice; the tile's last block sums them all -------------
    @cuda.jit(device=True, inline="always")
    def publish_slice(work, acc, z, row0, col0, ty, tx, m, n):
        for q in range(TN):
            j = col0 + tx + uint32(COL_OFF[q])
            for r in range(TM):
                i = row0 + ty + uint32(ROW_OFF[r])
                if i < m and j < n:
                    work[(z * m + i) * n + j] = acc[r, q]

    @cuda.jit(device=True, inline="always")
    def sum_slices(work, acc, n_split, row0, col0, ty, tx, m, n):
        for q in range(TN):
            j = col0 + tx + uint32(COL_OFF[q])
            for r in range(TM):
                i = row0 + ty + uint32(ROW_OFF[r])
                if i < m and j < n:
                    v = float32(0.0)
                    for zz in range(uint32(0), n_split):
                        v += work[(zz * m + i) * n + j]
                    acc[r, q] = v

    # -- the epilogue: bias, activation, mask, one write per output ---------------------------
    @cuda.jit(device=True, inline="always")
    def epilogue(c, acc, bias_vec, mask_vec, row0, col0, ty, tx, m, n):
        for q in range(TN):
            j = col0 + tx + uint32(COL_OFF[q])
            bias_j = bias_vec[j] if HAS_BIAS and j < n else float32(0.0)  # once per column
            for r in range(TM):
                i = row0 + ty + uint32(ROW_OFF[r])
                if i < m and j < n:
                    v = activate(acc[r, q] + bias_j if HAS_BIAS else acc[r, q])
                    if HAS_MASK and not mask_vec[i * n + j] > float32(0.0):
                        v = float32(0.0)
                    c[i * n + j] = v

    # The simulator rejects launch_bounds; it has no registers to bound anyway.
    bounds = {} if simulated() else {"launch_bounds": (THREADS, tiles.min_blocks)}

    @cached
    @cuda.jit(fastmath=True, **bounds)
    def kernel(a, b, bias_vec, mask_vec, sums, work, counters, c, m, n, k_dim, vec_ok, n_split):
        # a: (m*k_dim,) A, row-major (K, M) when TA; b: (k_dim*n,) B, (N, K) when TB;
        # bias_vec: (n,); mask_vec: (m*n,); sums: (n,) (each unused unless its flag is set);
        # work: (n_split*(m+1)*n,) partial tiles and column sums, counters: (tiles,) int32 zeros
        # (split-K only); c: (m*n,); m, n, k_dim, vec_ok, n_split: uint32
        sa = cuda.shared.array(SA2, float32, alignment=SHARED_ALIGN)  # [buffer][k][row of A]
        sb = cuda.shared.array(SB2, float32, alignment=SHARED_ALIGN)  # [buffer][k][column of B]
        t = uint32(cuda.threadIdx.x)
        tx, ty = (t % uTCOLS) * uSTEP, (t // uTCOLS) * uSTEP  # first column and row owned
        row0 = uint32(cuda.blockIdx.y) * uBM
        col0 = uint32(cuda.blockIdx.x) * uBN
        acc = cuda.local.array((TM, TN), float32)
        reg_a = cuda.local.array(TM, float32)
        reg_b = cuda.local.array(TN, float32)
        reg_a2 = cuda.local.array(TM, float32)  # used only when PREFETCH
        reg_b2 = cuda.local.array(TN, float32)
        next_a = cuda.local.array(LOAD_A, float32)
        next_b = cuda.local.array(LOAD_B, float32)
        for r in range(TM):
            for q in range(TN):
                acc[r, q] = 0.0
        col_sum = float32(0.0)
        sums_here = COLSUM and cuda.blockIdx.y == 0 and t < uBN

        # This block's slice of K: all of it, or (split-K) whole tiles of it for slice blockIdx.z
        k_begin, k_end = uint32(0), k_dim
        split = SPLIT_K and n_split > uint32(1)
        if split:
            per = (k_dim + n_split * uBK - uint32(1)) // (n_split * uBK) * uBK
            k_begin = min(uint32(cuda.blockIdx.z) * per, k_dim)
            k_end = min(k_begin + per, k_dim)
        # vec_ok (from the host): N and K % 4 == 0, 16-byte aligned operands. Then every whole
        # tile of an interior block takes the 128-bit loads; a last, partial tile of K does not.
        fast = vec_ok != 0 and row0 + uBM <= m and col0 + uBN <= n
        # Tile 0: global -> registers -> shared buffer 0.
        fast_next = fast and k_begin + uBK <= k_end
        fetch(a, b, k_begin, row0, col0, t, m, n, k_dim, k_end, fast_next, next_a, next_b)
        stash(sa, sb, uint32(0), uint32(0), t, fast_next, next_a, next_b)
        cuda.syncthreads()

        n_tiles = (k_end - k_begin + uBK - uint32(1)) // uBK
        for tile in range(uint32(0), n_tiles):
            cur = uint32(tile % uint32(2))
            more = tile + uint32(1) < n_tiles
            if more:  # issue the next tile's global loads now; they land while we compute
                k0 = k_begin + (tile + uint32(1)) * uBK
                fast_next = fast and k0 + uBK <= k_end
                fetch(a, b, k0, row0, col0, t, m, n, k_dim, k_end, fast_next, next_a, next_b)
            if sums_here:  # column t of this B tile; rows past K were loaded as zeros
                for kk in range(BK):
                    col_sum += sb[cur * uSB + uint32(kk * LDB) + t]
            multiply_tile(sa, sb, cur * uSA + ty, cur * uSB + tx, acc, reg_a, reg_b, reg_a2, reg_b2)
            if more:  # fill the other buffer; it was last read before the previous barrier
                other = uint32(1) - cur
                stash(sa, sb, other * uSA, other * uSB, t, fast_next, next_a, next_b)
            cuda.syncthreads()

        if split:
            z = uint32(cuda.blockIdx.z)
            publish_slice(work, acc, z, row0, col0, ty, tx, m, n)
            sums_at = n_split * m * n  # the slices' column sums follow their tiles
            if sums_here and col0 + t < n:
                work[sums_at + z * n + col0 + t] = col_sum
            cuda.threadfence()
            last = cuda.shared.array(1, int32)
            cuda.syncthreads()
            tile_id = cuda.blockIdx.y * cuda.gridDim.x + cuda.blockIdx.x
            if t == 0:
                last[0] = cuda.atomic.add(counters, tile_id, 1) == n_split - uint32(1)
            cuda.syncthreads()
            if last[0] == 0:
                return
            cuda.threadfence()
            sum_slices(work, acc, n_split, row0, col0, ty, tx, m, n)
            if sums_here and col0 + t < n:
                col_sum = float32(0.0)
                for zz in range(uint32(0), n_split):
                    col_sum += work[sums_at + zz * n + col0 + t]
            if t == 0:
                counters[tile_id] = 0
        if sums_here and col0 + t < n:
            sums[col0 + t] = col_sum
        epilogue(c, acc, bias_vec, mask_vec, row0, col0, ty, tx, m, n)

    return kernel


#: The tile sizes versions 6 and 7 use, by the largest of M and N. Chosen with
#: `nox -s phase4 -- --autotune` on the H100 (see README.md): for small products a small block
#: tile gives more blocks to the 132 multiprocessors (at n <= 1024 the differences between
#: candidates are within the run-to-run spread); for large ones the deepest tile with two blocks
#: per multiprocessor and operand prefetch wins.
TUNED: list[tuple[int, Tiles]] = [
    (1024, Tiles(64, 64, 8, 4, 4)),
    (1 << 62, Tiles(128, 128, 16, 8, 8, min_blocks=2, prefetch=True)),
]


def tiles_for(m: int, n: int) -> Tiles:
    size = max(m, n)
    return next(t for limit, t in TUNED if size <= limit)


# ------------------------------------------------------------------------------------------------
# Launches: every version planned the same way
@dataclass(frozen=True)
class Launch:
    """One planned kernel launch: the kernel, its grid and block, its arguments and the stream.
    Calling it launches the kernel (asynchronously, no checks); the launch configuration is made
    once, here, so a step that replays its launches pays only for the launch itself."""

    kernel: object
    grid: tuple[int, ...]
    block: int | tuple[int, ...]
    args: tuple
    stream: object = 0
    _configured: object = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        configured = configure(self.kernel, self.grid, self.block, self.stream)
        object.__setattr__(self, "_configured", configured)

    def __call__(self) -> None:
        self._configured(*self.args)


#: The plain ladder: versions 1-5, each (kernel, threads per block as (x, y), output tile (rows,
#: columns) per block, whether it takes flat arrays and uint32 sizes).
_PLAIN = {
    "naive": (matmul_naive, (32, 8), (8, 32), False),
    "tiled": (matmul_tiled, (TILE, TILE), (TILE, TILE), False),
    "blocked1d": (matmul_blocked1d, THREADS3, (BM3, BN3), False),
    "blocked2d": (matmul_blocked2d, THREADS4, (BM4, BN4), False),
    "unsigned": (matmul_unsigned, THREADS4, (BM4, BN4), True),
}
#: The versions with a fused epilogue, transposed operands and split-K (6, 7).
FUSED: tuple[str, ...] = ("double_buffered", "wide")
#: The tensor-core rungs (8-11): the precision each computes in.
_TENSOR = {
    "tensor_tf32": "tf32",
    "tensor_bf16": "bf16",
    "tensor_tf32_async": "tf32",
    "tensor_bf16_async": "bf16",
}
#: The rungs fed by cp.async (10, 11).
_ASYNC = ("tensor_tf32_async", "tensor_bf16_async")
#: Every version, by name, in ladder order.
VERSIONS: tuple[str, ...] = (*_PLAIN, *FUSED, *_TENSOR)
#: The version `matmul()` runs: the fastest at every size measured (README.md).
DEFAULT_VERSION = "wide"

#: The precisions a product can be asked for, each with the fastest verified version for it and
#: the largest relative error (||C - ref|| / ||ref|| against float64) it may have. fp32: float32
#: throughout. tf32: inputs rounded to TF32 (unit roundoff 2^-11 = 4.9e-4), products summed in
#: float32. Each rounded input carries a relative error of at most u, a product of two at most
#: about 2u, and those errors, random in sign, do not grow with K: the norm-wise error measures
#: 5-7e-4 on random inputs. The tolerance is 4u = 2.0e-3, room for 3x that and no more: a wrong
#: fragment or a missing K step gives errors of order 1.
PRECISIONS = {
    "fp32": (DEFAULT_VERSION, 1e-5),
    "tf32": ("tensor_tf32_async", 4 * 2.0**-11),
    "bf16": ("tensor_bf16_async", 4 * 2.0**-8),
}


def precision_of(version: str) -> str:
    """The precision a version computes in: 'fp32' for versions 1-7, its own for the tensor rungs."""
    return _TENSOR.get(version, "fp32")


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(
            f"unknown precision {precision!r}; this project's kernels compute in "
            f"{', '.join(PRECISIONS)}"
        )


def require_precision(precision: str) -> None:
    """ValueError, one line, unless `precision` is known and this GPU can compute in it (the
    tensor-core precisions need mma.sync: compute capability 8.0 or newer; the simulator has
    the stand-ins)."""
    check_precision(precision)
    if precision != "fp32" and not simulated():
        major, minor = cuda.get_current_device().compute_capability
        if (major, minor) < (8, 0):
            raise ValueError(
                f"{precision} needs the mma.sync tensor cores of compute capability 8.0 or newer; "
                f"this GPU is {major}.{minor}: use precision='fp32'"
            )


def plan(
    version: str,
    a,
    b,
    c,
    *,
    tiles: Tiles | None = None,
    bias=None,
    activation: str | None = None,
    trans_a: bool = False,
    trans_b: bool = False,
    mask=None,
    col_sums=None,
    split: int = 1,
    stream=0,
) -> Launch:
    """The launch of one version computing c (M, N) from device arrays a and b (C-contiguous
    float32), with no checks of the data: callers check (`matmul`, `dense`) or own the arrays.

    Versions 1-5, 8 and 9 compute the plain product A (M, K) @ B (K, N); the tensor-core
    versions take `tiles` as a TensorTiles (default: tensor_tiles_for the output), and 10 and 11
    also take every option of 6 and 7 below except `col_sums` with `split`. Versions 6 and 7 (double_buffered,
    wide) compute op(a) @ op(b), where a is (M, K), or (K, M) with `trans_a`, and b is (K, N), or
    (N, K) with `trans_b`, with an epilogue: + `bias` (N,), `activation` (one of ACTIVATIONS),
    then zero where `mask` (M, N) is not positive; `col_sums` (N,) receives the column sums of
    op(b); `split` slices of K run on blockIdx.z (the workspace and tile counters are allocated
    here, so plan once per launch site). `tiles` default to TUNED's for this output size.
    """
    m, n = c.shape
    if version in _ASYNC:
        return _plan_async(version, a, b, c, tiles, bias, activation, trans_a, trans_b, mask,
                           col_sums, split, stream)  # fmt: skip
    if version in _PLAIN or version in _TENSOR:
        tensor_tiles = tiles if version in _TENSOR and isinstance(tiles, TensorTiles) else None
        extras = {
            "tiles": None if tensor_tiles else tiles, "bias": bias, "activation": activation,
            "trans_a": trans_a, "trans_b": trans_b, "mask": mask, "col_sums": col_sums, "split": split != 1 or None,
        }  # fmt: skip
        given = [name for name, value in extras.items() if value is not None and value is not False]
        if given:
            raise ValueError(
                f"version {version!r} computes the plain product; {', '.join(given)} needs "
                f"one of {', '.join(map(repr, (*FUSED, *_ASYNC)))}"
            )
        if version in _TENSOR:  # flat arrays and uint32 sizes, as version 5
            tc = tensor_tiles or tensor_tiles_for(m, n, version)
            if tc.stages > 1:
                raise ValueError(f"version {version!r} takes tiles of one stage, not {tc}")
            kernel = tensor_kernel(tc, _TENSOR[version])
            block, rows, cols = tc.threads, tc.BM, tc.BN
            flat = True
        else:
            kernel, block, (rows, cols), flat = _PLAIN[version]
        grid = (math.ceil(n / cols), math.ceil(m / rows))
        if flat:  # version 5: 1-D views and the sizes as uint32
            k_dim = a.shape[1]
            sizes = (np.uint32(m), np.uint32(n), np.uint32(k_dim))
            args = (a.reshape(a.size), b.reshape(b.size), c.reshape(c.size), *sizes)
        else:
            args = (a, b, c)
        return Launch(kernel, grid, block, args, stream)
    if version not in VERSIONS:
        raise ValueError(f"unknown version {version!r}; expected one of {list(VERSIONS)}")
    wide = version == "wide"
    k_dim = a.shape[0] if trans_a else a.shape[1]
    tiles = tiles or tiles_for(m, n)
    if not wide:  # version 6 has no operand prefetch: the same tile shape without it
        tiles = dataclasses.replace(tiles, prefetch=False)
    kernel = gemm_kernel(
        tiles, wide, activation=activation, bias=bias is not None, trans_a=trans_a,
        trans_b=trans_b, mask=mask is not None, col_sums=col_sums is not None, split_k=split > 1,
    )  # fmt: skip
    grid = (math.ceil(n / tiles.BN), math.ceil(m / tiles.BM), split)
    fa, fb, fc = a.reshape(a.size), b.reshape(b.size), c.reshape(c.size)
    unused = fc[:1]  # a placeholder for the optional operands the kernel was built without
    extras = [unused if x is None else x.reshape(x.size) for x in (bias, mask, col_sums)]
    if split > 1:
        extras.append(cuda.device_array(split * (m + 1) * n, np.float32))  # tiles, col sums
        extras.append(cuda.to_device(np.zeros(grid[0] * grid[1], np.int32)))
    else:
        extras += [unused, unused]
    vec_ok = k_dim % 4 == 0 and n % 4 == 0 and _aligned16(a) and _aligned16(b)
    sizes = (np.uint32(m), np.uint32(n), np.uint32(k_dim), np.uint32(vec_ok), np.uint32(split))
    return Launch(kernel, grid, tiles.threads, (fa, fb, *extras, fc, *sizes), stream)


def _plan_async(version, a, b, c, tiles, bias, activation, trans_a, trans_b, mask, col_sums,
                split, stream) -> Launch:  # fmt: skip
    """plan() for rungs 10 and 11: the plain product, or op(a) @ op(b) with the epilogue and
    split-K of versions 6 and 7 (the options as plan takes them)."""
    m, n = c.shape
    tc = tiles if isinstance(tiles, TensorTiles) else tensor_tiles_for(m, n, version)
    if tc.stages < 2:
        raise ValueError(f"version {version!r} takes tiles of two or more stages, not {tc}")
    k_dim = a.shape[0] if trans_a else a.shape[1]
    # 16-byte copies need every stored row a multiple of 4 floats and aligned operands
    rows_ok = (m if trans_a else k_dim) % 4 == 0 and (k_dim if trans_b else n) % 4 == 0
    vec = 4 if rows_ok and _aligned16(a) and _aligned16(b) else 1
    kernel = tensor_kernel(
        tc, _TENSOR[version], vec, activation=activation, bias=bias is not None,
        trans_a=trans_a, trans_b=trans_b, mask=mask is not None, col_sums=col_sums is not None,
        split_k=split > 1,
    )  # fmt: skip
    grid = (math.ceil(n / tc.BN), math.ceil(m / tc.BM), split)
    fc = c.reshape(c.size)
    unused = fc[:1]
    extras = [unused if x is None else x.reshape(x.size) for x in (bias, mask, col_sums)]
    if split > 1:
        extras.append(cuda.device_array(split * m * n, np.float32))  # the slices' tiles
        extras.append(cuda.to_device(np.zeros(grid[0] * grid[1], np.int32)))
    else:
        extras += [unused, unused]
    sizes = (np.uint32(m), np.uint32(n), np.uint32(k_dim), np.uint32(split))
    return Launch(kernel, grid, tc.threads, (a.reshape(a.size), b.reshape(b.size), *extras, fc,
                                             *sizes), stream)  # fmt: skip


def _aligned16(x) -> bool:
    """Whether a device array starts on a 16-byte boundary (the simulator has no addresses)."""
    interface = getattr(x, "__cuda_array_interface__", None)
    return interface is None or interface["data"][0] % 16 == 0


def compiled_kernels() -> dict[str, object]:
    """Every kernel of the ladder by a readable name: versions 1-5, then each variant of versions
    6 and 7 compiled so far in this process (numba's dispatchers: `get_regs_per_thread()` and
    friends tell their resources)."""
    kernels = {version: kernel for version, (kernel, *_) in _PLAIN.items()}
    kernels |= {
        str(v) if v.tiles.stages > 1 else f"tensor_{v.precision} {v.tiles}": kernel
        for v, kernel in _TENSOR_COMPILED.items()
    }
    kernels |= {str(variant): kernel for variant, kernel in _COMPILED.items()}
    return kernels


def matmul(a, b, out=None, version: str | None = None, precision: str = "fp32"):
    """C = A @ B on the GPU, float32 in and out.

    a: (M, K), b: (K, N); out: optional (M, N) float32 device array to write into. NumPy inputs
    give a NumPy result; device arrays give a device array and stay on the GPU (see
    `phase4_cuda.device` for what is accepted: float64 is converted to float32 first, for every
    precision). `precision` is 'fp32' (the default), 'tf32' or 'bf16' (the tensor cores: inputs
    rounded to 10 or 8 mantissa bits, about 3 or 2 decimal digits, sums in float32; see
    PRECISIONS); `version` picks a rung of the ladder instead of the fastest one for it.
    """
    require_gpu()
    require_precision(precision)
    if version is None:
        version = PRECISIONS[precision][0]
    if version not in VERSIONS:
        raise ValueError(f"unknown version {version!r}; expected one of {list(VERSIONS)}")
    if precision_of(version) != precision:
        raise ValueError(
            f"version {version!r} computes in {precision_of(version)}, not {precision}"
        )
    on_device = is_device_array(a) or is_device_array(b)
    da, db = as_device(a, "a", 2), as_device(b, "b", 2)
    (m, k), (k2, n) = da.shape, db.shape
    if k != k2:
        raise ValueError(f"matmul: shapes ({m}, {k}) and ({k2}, {n}) are not aligned ({k} != {k2})")
    if out is None:
        dc = cuda.device_array((m, n), dtype=np.float32)
    else:
        dc = as_device(out, "out", 2)
        if dc.shape != (m, n):
            raise ValueError(f"out has shape {dc.shape}, expected {(m, n)}")
        on_device = on_device or is_device_array(out)
    plan(version, da, db, dc)()
    if on_device:
        return dc
    return dc.copy_to_host()


# ------------------------------------------------------------------------------------------------
# Validation: every version against float64 NumPy, before anything is timed or trusted
#: the largest relative error (norm-wise, ||C - ref|| / ||ref||) a float32 product may have
TOLERANCE = PRECISIONS["fp32"][1]
#: shapes small enough for the simulator: 1, primes, more than one block of every version
CHECK_SHAPES = ((1, 1, 1), (17, 33, 65), (130, 67, 129))


def reference(a, b, bias=None, activation: str | None = None, mask=None) -> np.ndarray:
    """act(a @ b + bias) * (mask > 0), in float64 NumPy: what every version and epilogue must
    compute (a, b: the logical operands, already transposed where the kernel reads them so)."""
    out = np.asarray(a, np.float64) @ np.asarray(b, np.float64)
    if bias is not None:
        out += np.asarray(bias, np.float64)
    if activation == "relu":
        out = np.maximum(out, 0.0)
    elif activation == "sigmoid":
        out = 1.0 / (1.0 + np.exp(-out))
    elif activation == "tanh":
        out = np.tanh(out)
    else:
        check_activation(activation)
    if mask is not None:
        out *= np.asarray(mask) > 0
    return out


def validate(
    versions=None,
    shapes=CHECK_SHAPES,
    *,
    seed: int = 0,
    tol: float | None = None,
    bias: bool = False,
    activation: str | None = None,
    trans_a: bool = False,
    trans_b: bool = False,
    mask: bool = False,
    col_sums: bool = False,
    **launch_options,
) -> dict[tuple[str, tuple[int, int, int]], float]:
    """Check versions (default: all) against `reference` on fresh random inputs of each (M, K, N),
    with every output poisoned (NaN) before its launch. The flags ask for an epilogue (a random
    bias, a mask with exact zeros) or transposed operands, as `plan` takes them; other options
    (tiles, split) go to `plan` as they are. Returns {(version, (M, K, N)): relative error} and
    raises AssertionError on the first over `tol` (NaN included: an element no thread wrote);
    `tol` defaults to the tolerance of each version's precision (PRECISIONS)."""
    require_gpu()
    rng = np.random.default_rng(seed)
    errors = {}
    for m, k, n in shapes:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        bias_v = rng.standard_normal(n, dtype=np.float32) if bias else None
        mask_v = None
        if mask:
            mask_v = rng.standard_normal((m, n), dtype=np.float32)
            mask_v[0, 0] = 0.0  # exactly zero is masked out, as a ReLU output of zero must be
        ref = reference(a, b, bias_v, activation, mask_v)
        stored_a = np.ascontiguousarray(a.T) if trans_a else a
        stored_b = np.ascontiguousarray(b.T) if trans_b else b
        da, db = cuda.to_device(stored_a), cuda.to_device(stored_b)
        options = {
            "bias": None if bias_v is None else cuda.to_device(bias_v),
            "mask": None if mask_v is None else cuda.to_device(mask_v),
            "activation": activation, "trans_a": trans_a, "trans_b": trans_b, **launch_options,
        }  # fmt: skip
        for version in versions or VERSIONS:
            dc = cuda.to_device(np.full((m, n), np.nan, dtype=np.float32))
            sums = cuda.to_device(np.full(n, np.nan, np.float32)) if col_sums else None
            plan(version, da, db, dc, col_sums=sums, **options)()
            err = relative_error(dc.copy_to_host(), ref)
            if sums is not None:
                err = max(err, relative_error(sums.copy_to_host(), b.astype(np.float64).sum(0)))
            errors[(version, (m, k, n))] = err
            if not err <= (tol if tol is not None else PRECISIONS[precision_of(version)][1]):
                raise AssertionError(
                    f"{version} at (M, K, N) = {(m, k, n)} {launch_options or ''}: "
                    f"relative error {err:.2e}"
                )
    return errors
