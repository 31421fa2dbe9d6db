"""The float32 matrix product C = A @ B in numba.cuda, as a ladder of rungs, one file each.

A is (M, K), B is (K, N), C is (M, N), all row-major. Every rung handles any shape (edges are
guarded, missing elements read as 0). Each file opens with what it changes from the rung below,
why it is faster, and its measured TFLOP/s at n = 4096 on an H100 with the command that gives it
(rungs 1-7 from results/h100-ladder.json, rungs 8-11 from results/h100-ladder-async.json,
rungs 12-14 from results/h100-wgmma.json: GPU time of the product on staged operands):

  k01_naive.py               1.4   one thread per output; a warp reads a row of B together
  k02_tiled.py               7.7   32 x 32 tiles of A and B in shared memory: each load used 32x
  k03_blocked1d.py           7.6   8 outputs of a column per thread: a value of B reused 8x
  k04_blocked2d.py           8.2   8 x 8 outputs per thread: 16 shared loads for 64 FMAs
  k05_unsigned.py           27.3   rung 4 with unsigned 32-bit indices: no index fix-ups
  k06_double_buffered.py    21.8   the next tiles load into registers while these multiply
  k07_wide.py               38.7   runs of 4 rows and columns a thread: 128-bit loads (fp32 best)
  k08_tensor_tf32.py        79.8   the tensor cores, mma.sync in TF32 (a precision of its own)
  k09_tensor_bf16.py       130.9   the same in bfloat16, 16 of K per instruction
  k10_tensor_tf32_async.py 119.6   rung 8 fed by cp.async, a pipeline of shared stages (tf32 since 8.0)
  k11_tensor_bf16_async.py 133.6   rung 10 with rung 9's instruction (bf16 on every GPU since 8.0)
  k12_wgmma_bf16.py        350.2   Hopper's wgmma: a warpgroup reads bf16 tiles from shared memory
  k13_wgmma_bf16_2wg.py    520.3   two warpgroups share each tile of B (bf16 best on Hopper)
  k14_wgmma_tf32_2wg.py    302.8   rung 13 in TF32 (tf32 best on Hopper)
  k15_wgmma_bf16_tma.py        -     rung 13 fed by TMA from a producer warpgroup, mbarriers
  k16_wgmma_tf32_tma.py        -     rung 15 in TF32 (15 and 16: not yet run on a GPU)

What the rungs share, one idea a module:
  launch.py      `Launch`, one planned launch, and the five kinds of rung (how each is launched)
  ladder.py      every rung in order (RUNGS, VERSIONS), `plan()`, the one switch, and `fastest()`
  tiles.py       the tile shapes of rungs 6-14 and the tables that choose them (TUNED, TC_LARGE,
                 WGMMA_LARGE)
  options.py     the training step's options: bias, activation, transposes, mask, column sums,
                 split-K (rungs 6, 7, 10, 11 take them)
  epilogues.py   the activations, listed once, and the fused epilogue of one output
  split_k.py     split-K's protocol, written once for the float32 and the tensor-core rungs
  thread_tiles.py, warp_tiles.py   the pieces rungs 6-7 and 8-11 share
  staging.py     the pass that writes the operands of rungs 12-16 in bf16 or tf32, B transposed
  compiled.py    the one cache of compiled variants of rungs 6-14
  precisions.py  fp32, tf32, bf16: the rung for each, its tolerance, the compute capability it
                 needs (and wgmma's, 9.0 alone)
  validation.py  `reference()` in float64 and `validate()`, which checks every rung against it
  host.py        `matmul()`, the host function: checks, copies, plans, launches

References: Simon Boehm, "How to Optimize a CUDA Matmul Kernel for cuBLAS-like Performance"
(siboehm.com, 2022), whose kernels 1-6 this ladder follows (and whose one-kernel-a-file layout
it borrows); the numba documentation's shared-memory matmul for rung 2. `validate()` checks
every rung against a float64 NumPy product before `benchmark.py` times any of them; `matmul()`
picks the fastest verified rung for the precision asked, this GPU and the size
(ladder.FASTEST).
"""

from phase4_cuda.matmul.compiled import GemmVariant, TensorVariant
from phase4_cuda.matmul.epilogues import ACTIVATIONS, EPILOGUES, check_activation
from phase4_cuda.matmul.host import matmul
from phase4_cuda.matmul.k01_naive import matmul_naive
from phase4_cuda.matmul.k02_tiled import matmul_tiled
from phase4_cuda.matmul.k03_blocked1d import matmul_blocked1d
from phase4_cuda.matmul.k04_blocked2d import matmul_blocked2d
from phase4_cuda.matmul.k05_unsigned import matmul_unsigned
from phase4_cuda.matmul.ladder import (
    FASTEST,
    FUSED,
    NOT_YET_ON_A_GPU,
    RUNGS,
    VERSIONS,
    compiled_kernels,
    fastest,
    gemm_kernel,
    needs_cc,
    plan,
    precision_of,
    runnable,
    tensor_kernel,
)
from phase4_cuda.matmul.launch import Launch
from phase4_cuda.matmul.options import KernelOptions, Options
from phase4_cuda.matmul.precisions import (
    CC_OVERRIDE,
    DEFAULT_VERSION,
    NEEDS_CC,
    PRECISIONS,
    TOLERANCE,
    check_precision,
    compute_capability,
    lacks,
    require_precision,
    supported_precisions,
    unsupported,
)
from phase4_cuda.matmul.tiles import (
    SHARED_LIMIT,
    TC_FILL,
    TC_LARGE,
    TC_SIMULATED,
    TC_SIMULATED_ASYNC,
    TC_SMALL,
    TUNED,
    WGMMA_LARGE,
    WGMMA_SIMULATED,
    WGMMA_SMALL,
    TensorTiles,
    Tiles,
    WgmmaTiles,
    tensor_tiles_for,
    tiles_for,
    wgmma_tiles_for,
)
from phase4_cuda.matmul.validation import CHECK_SHAPES, reference, relative_error, validate

__all__ = [
    "ACTIVATIONS",
    "CC_OVERRIDE",
    "CHECK_SHAPES",
    "DEFAULT_VERSION",
    "EPILOGUES",
    "FASTEST",
    "FUSED",
    "NEEDS_CC",
    "NOT_YET_ON_A_GPU",
    "PRECISIONS",
    "RUNGS",
    "SHARED_LIMIT",
    "TC_FILL",
    "TC_LARGE",
    "TC_SIMULATED",
    "TC_SIMULATED_ASYNC",
    "TC_SMALL",
    "TOLERANCE",
    "TUNED",
    "VERSIONS",
    "WGMMA_LARGE",
    "WGMMA_SIMULATED",
    "WGMMA_SMALL",
    "GemmVariant",
    "KernelOptions",
    "Launch",
    "Options",
    "TensorTiles",
    "TensorVariant",
    "Tiles",
    "WgmmaTiles",
    "check_activation",
    "check_precision",
    "compiled_kernels",
    "compute_capability",
    "fastest",
    "gemm_kernel",
    "lacks",
    "matmul",
    "matmul_blocked1d",
    "matmul_blocked2d",
    "matmul_naive",
    "matmul_tiled",
    "matmul_unsigned",
    "needs_cc",
    "plan",
    "precision_of",
    "reference",
    "relative_error",
    "require_precision",
    "runnable",
    "supported_precisions",
    "tensor_kernel",
    "tensor_tiles_for",
    "tiles_for",
    "unsupported",
    "validate",
    "wgmma_tiles_for",
]
