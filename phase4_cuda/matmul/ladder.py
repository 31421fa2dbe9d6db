"""The ladder: every rung in the order a learner climbs it, `plan()`, the one switch that turns
a rung's name into a launch, and `fastest()`, the rung `matmul()` runs for a precision on this
GPU at a size. Each rung's kernel is in its own file (k01_naive.py ... k14_wgmma_tf32_2wg.py),
declared there as `RUNG` with the kind of launch it needs (launch.py); this module only lists
them.
"""

from __future__ import annotations

from phase4_cuda.device import simulated
from phase4_cuda.matmul import (
    k01_naive,
    k02_tiled,
    k03_blocked1d,
    k04_blocked2d,
    k05_unsigned,
    k06_double_buffered,
    k07_wide,
    k08_tensor_tf32,
    k09_tensor_bf16,
    k10_tensor_tf32_async,
    k11_tensor_bf16_async,
    k12_wgmma_bf16,
    k13_wgmma_bf16_2wg,
    k14_wgmma_tf32_2wg,
    k15_wgmma_bf16_tma,
    k16_wgmma_tf32_tma,
    staging,
)
from phase4_cuda.matmul.compiled import compiled_variants
from phase4_cuda.matmul.launch import Launch, PlainRung
from phase4_cuda.matmul.options import KernelOptions, Options
from phase4_cuda.matmul.precisions import NEEDS_CC, PRECISIONS, unsupported
from phase4_cuda.matmul.tiles import TensorTiles, Tiles

__all__ = [
    "FASTEST",
    "FUSED",
    "NOT_YET_ON_A_GPU",
    "RUNGS",
    "VERSIONS",
    "compiled_kernels",
    "fastest",
    "gemm_kernel",
    "needs_cc",
    "plan",
    "precision_of",
    "runnable",
    "tensor_kernel",
]

#: Every rung by its version name, in ladder order.
RUNGS = {
    rung.version: rung
    for rung in (
        k01_naive.RUNG,
        k02_tiled.RUNG,
        k03_blocked1d.RUNG,
        k04_blocked2d.RUNG,
        k05_unsigned.RUNG,
        k06_double_buffered.RUNG,
        k07_wide.RUNG,
        k08_tensor_tf32.RUNG,
        k09_tensor_bf16.RUNG,
        k10_tensor_tf32_async.RUNG,
        k11_tensor_bf16_async.RUNG,
        k12_wgmma_bf16.RUNG,
        k13_wgmma_bf16_2wg.RUNG,
        k14_wgmma_tf32_2wg.RUNG,
        k15_wgmma_bf16_tma.RUNG,
        k16_wgmma_tf32_tma.RUNG,
    )
}
#: Every version, by name, in ladder order.
VERSIONS: tuple[str, ...] = tuple(RUNGS)
#: The float32 versions with the training step's options (rungs 6, 7).
FUSED: tuple[str, ...] = (k06_double_buffered.RUNG.version, k07_wide.RUNG.version)


def _rung(version: str):
    if version not in RUNGS:
        raise ValueError(f"unknown version {version!r}; expected one of {list(VERSIONS)}")
    return RUNGS[version]


def precision_of(version: str) -> str:
    """The precision a version computes in: 'fp32' for rungs 1-7, its own for the tensor rungs."""
    return _rung(version).precision


def needs_cc(version: str) -> tuple:
    """The compute capability a version needs (precisions.NEEDS_CC, `lacks` reads it): its
    precision's, or for the wgmma rungs 9.0 itself, (9, 0, 'a')."""
    return NEEDS_CC[_rung(version).needs]


#: Rungs compiled for sm_90a and checked in the simulator (its stand-ins of TMA and the
#: barriers follow the hardware's rules) that have not yet run on a GPU. On a real GPU
#: `runnable` leaves them out, so the kernel check, the benchmark, `validate()` and the tests
#: never wait on a barrier no one has seen complete on hardware; `python -m
#: phase4_cuda.wgmma_bench --unproven` runs them on purpose, to measure them.
NOT_YET_ON_A_GPU = frozenset({k15_wgmma_bf16_tma.RUNG.version, k16_wgmma_tf32_tma.RUNG.version})
NOT_YET_REASON = "not yet run on a GPU: python -m phase4_cuda.wgmma_bench --unproven tries them"


def _unsupported(versions) -> str | None:
    return unsupported(*dict.fromkeys(_rung(v).needs for v in versions))


def _unproven(versions) -> list[str]:
    """Those of `versions` that a real GPU has not run yet (none in the simulator)."""
    return [] if simulated() else [v for v in versions if v in NOT_YET_ON_A_GPU]


def runnable(versions, unproven: bool = False) -> tuple[list[str], str | None]:
    """The versions among `versions` that this GPU runs, and one line naming those it does not
    and why (what they need: precisions.NEEDS_CC; or, unless `unproven`, that no GPU has run
    them yet: NOT_YET_ON_A_GPU), or None."""
    lacking = [v for v in versions if _unsupported([v]) is not None]
    untried = [] if unproven else [v for v in _unproven(versions) if v not in lacking]
    kept = [v for v in versions if v not in lacking and v not in untried]
    clauses = [f"{', '.join(lacking)} ({_unsupported(lacking)})"] if lacking else []
    clauses += [f"{', '.join(untried)} ({NOT_YET_REASON})"] if untried else []
    return kept, (f"left out: {'; '.join(clauses)}" if clauses else None)


#: The rung `matmul(precision=...)` runs, by precision: the first of each list that this GPU
#: runs (runnable) and whose smallest output (m * n) the product reaches. On the H100, TFLOP/s
#: at n = 1024 / 2048 / 4096, the wgmma rungs with their staging pass (results/h100-wgmma.json,
#: GPU time): BF16 rung 13 79 / 235 / 393, rung 12 91 / 200 / 287; TF32 rung 14 55 / 159 /
#: 235. The rungs before them (results/h100-ladder-async.json, timed by the host's clock, which
#: at n = 1024 counts the launches more than the GPU's work: wgmma_bench.py says why): rung 11
#: 35 / 130 / 134, rung 10 35 / 115 / 120. Below 1024 x 1024 nothing was measured against
#: them, so rungs 10 and 11 (every GPU since 8.0) stay, as they do where wgmma cannot run.
FASTEST = {
    "fp32": ((0, PRECISIONS["fp32"][0]),),
    "bf16": (
        (2048 * 2048, k13_wgmma_bf16_2wg.RUNG.version),
        (1024 * 1024, k12_wgmma_bf16.RUNG.version),
        (0, PRECISIONS["bf16"][0]),
    ),
    "tf32": ((1024 * 1024, k14_wgmma_tf32_2wg.RUNG.version), (0, PRECISIONS["tf32"][0])),
}


def fastest(precision: str, m: int, n: int) -> str:
    """The version `matmul()` runs for an (m, n) output in `precision` on this GPU (FASTEST)."""
    for smallest, version in FASTEST[precision]:
        if m * n >= smallest and _unsupported([version]) is None:
            return version
    return FASTEST[precision][-1][1]


def plan(version: str, a, b, c, *, tiles=None, stream=0, **options) -> Launch:
    """The launch of one version computing c (M, N) from device arrays a and b (C-contiguous
    float32), with no checks of the data: callers check (`matmul`, `dense`) or own the arrays.

    Versions 1-5, 8, 9 and 12-16 compute the plain product A (M, K) @ B (K, N). Versions 6, 7,
    10 and 11 compute op(a) @ op(b) with the training step's `options` (options.py: bias,
    activation, trans_a, trans_b, mask, col_sums, split; 10 and 11 all but col_sums with split).
    `tiles`: Tiles for 6 and 7 (default: tiles_for the output), TensorTiles for 8-11 (default:
    tensor_tiles_for it), WgmmaTiles for 12-16 (default: wgmma_tiles_for it). With split-K the
    workspace and tile counters, and for 12-16 the staged operands, are allocated here, so plan
    once per launch site. `stream`: the CUDA stream to launch on.
    """
    rung = _rung(version)
    asked = Options(**options)
    given = asked.given()
    if tiles is not None and isinstance(rung, PlainRung):  # rungs 1-5: their tiles are fixed
        given.insert(0, "tiles")
    if given and not rung.takes_options:
        fused = [v for v, r in RUNGS.items() if r.takes_options]
        raise ValueError(
            f"version {version!r} computes the plain product; {', '.join(given)} needs "
            f"one of {', '.join(map(repr, fused))}"
        )
    return rung.plan(a, b, c, tiles, asked, stream)


def gemm_kernel(tiles: Tiles, wide: bool = True, **options):
    """The kernel of rung 7 (`wide`) or 6 (not `wide`) for `tiles`, compiled once per variant
    (see options.KernelOptions for the options: activation, bias, trans_a, trans_b, mask,
    col_sums, split_k). It computes C = op(A) @ op(B) with the options' epilogue; its arguments
    are those `plan` passes (k06_double_buffered.build)."""
    rung = k07_wide.RUNG if wide else k06_double_buffered.RUNG
    return rung.kernel(tiles, KernelOptions(**options))


def tensor_kernel(tiles: TensorTiles, precision: str = "tf32", vec: int = 4, **options):
    """The tensor-core kernel for `tiles` in `precision` ('tf32' or 'bf16'), compiled once each:
    staged through registers (rungs 8, 9) for tiles of one stage, else through a cp.async
    pipeline (rungs 10, 11) copying `vec` floats (4 or 1) at a time, which also take the
    options (options.KernelOptions). Kernels of rungs 10 and 11 take (a, b, bias, mask, sums,
    work, counters, c, m, n, k_dim, n_split); those of rungs 8 and 9 (a, b, c, m, n, k_dim)."""
    flags = KernelOptions(**options)
    if tiles.stages == 1:
        if flags != KernelOptions():
            raise ValueError(f"{tiles}: the register-staged rungs compute the plain product")
        rung = {"tf32": k08_tensor_tf32.RUNG, "bf16": k09_tensor_bf16.RUNG}[precision]
        return rung.kernel(tiles)
    rung = {"tf32": k10_tensor_tf32_async.RUNG, "bf16": k11_tensor_bf16_async.RUNG}[precision]
    return rung.kernel(tiles, vec, flags)


def compiled_kernels() -> dict[str, object]:
    """Every kernel of the ladder by a readable name: rungs 1-5, then each variant of rungs
    6-14 and each staging pass of rungs 12-16 made so far in this process (numba's
    dispatchers: `get_regs_per_thread()` and friends tell their resources)."""
    plain = {v: r.kernel for v, r in RUNGS.items() if isinstance(r, PlainRung)}
    return plain | compiled_variants() | staging.compiled_staging()
