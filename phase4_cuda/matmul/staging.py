"""The staging pass of the wgmma rungs (12-16): float32 operands written once in what Hopper's
tensor cores read from shared memory. A (M, K) becomes (M, KW) 32-bit words, B (K, N) becomes
B^T as (N, KW) words, each row K-major and padded with zeros to a multiple of 16 bytes (the unit
of cp.async). bf16: two values a word, rounded to nearest even (cvt.rn.bf16x2), the lower k in
the low half; tf32: one, rounded to nearest (cvt.rna.tf32).

This is what a bf16 model holds anyway, and what cuBLAS's bf16 GEMM takes. B is transposed
because wgmma reads tf32 only K-major (bf16 could read B as stored, with the instruction's
transpose bit; one layout for both keeps one kernel). Left out: operands kept staged between
products (each planned product stages its own).
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, float32, uint32

from phase4_cuda.device import configure, simulated
from phase4_cuda.tensor_cores import bf16x2, tf32

__all__ = ["WORDS", "buffers", "compiled_staging", "stage", "staging_launch", "words_per_row"]

#: precision -> (values per 32-bit word, the word's numba type)
WORDS = {"bf16": (2, uint32), "tf32": (1, float32)}


def words_per_row(k: int, precision: str) -> int:
    """Words of a staged row of K values: ceil(K / values per word), rounded up to 4 words."""
    per_word = WORDS[precision][0]
    return -(-k // (4 * per_word)) * 4


def _dtype(precision: str):
    return np.uint32 if WORDS[precision][1] == uint32 else np.float32


def buffers(m: int, n: int, k: int, precision: str, stream=0) -> tuple:
    """Device arrays for staged A (m, KW) and B^T (n, KW) of a product (m, k) @ (k, n)."""
    kw = words_per_row(k, precision)
    return tuple(cuda.device_array((rows, kw), _dtype(precision), stream=stream) for rows in (m, n))


_STAGING: dict = {}


def _staging_kernel(precision: str, transpose: bool):
    """stage(x, out, rows, cols, kw): x is (rows, cols) float32 flat; out is (cols, kw) words
    of x's columns when `transpose` (B: K = rows), else (rows, kw) of x's rows (A: K = cols)."""
    if (precision, transpose) in _STAGING:
        return _STAGING[precision, transpose]
    PER = WORDS[precision][0]

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


def compiled_staging() -> dict[str, object]:
    """The staging kernels made so far in this process, by a readable name."""
    return {
        f"wgmma staging {precision}{' transposed' if transpose else ''}": kernel
        for (precision, transpose), kernel in _STAGING.items()
    }


def staging_launch(x, out, precision: str, transpose: bool = False) -> tuple:
    """(kernel, grid, block, args) of the pass that writes x (rows, cols) float32, on the
    device, into `out`: (rows, KW(cols)) words, or with `transpose` (cols, KW(rows))."""
    rows, cols = x.shape
    k, outer = (rows, cols) if transpose else (cols, rows)
    kw = words_per_row(k, precision)
    if out.shape != (outer, kw):
        raise ValueError(f"staged {precision} operand: expected {(outer, kw)}, got {out.shape}")
    kernel = _staging_kernel(precision, transpose)
    # (the simulator runs a Python thread per CUDA thread: fewer of them there)
    if transpose:
        grid, block = (math.ceil(cols / 32), math.ceil(kw / 32)), (32, 2 if simulated() else 8)
    else:
        grid, block = (1, 64) if simulated() else (min(math.ceil(rows * kw / 256), 4096), 256)
    args = (x.reshape(x.size), out.reshape(out.size), *map(np.uint32, (rows, cols, kw)))
    return kernel, grid, block, args


def stage(x, precision: str, transpose: bool = False, out=None, stream=0):
    """x (rows, cols) float32 on the device -> its staged words, launched now: (rows, KW(cols)),
    or with `transpose` (cols, KW(rows)), written into `out` if given (see the docstring)."""
    rows, cols = x.shape
    k, outer = (rows, cols) if transpose else (cols, rows)
    if out is None:
        shape = (outer, words_per_row(k, precision))
        out = cuda.device_array(shape, _dtype(precision), stream=stream)
    kernel, grid, block, args = staging_launch(x, out, precision, transpose)
    configure(kernel, grid, block, stream)(*args)
    return out
