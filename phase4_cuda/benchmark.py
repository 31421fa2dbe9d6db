"""Benchmark of Phase 4 on a GPU: the matmul ladder against cuBLAS, launch overhead, and the
registers, spills and shared memory of every compiled kernel.

    python -m phase4_cuda.benchmark [--sizes 1024 2048 4096] [--json FILE] [--autotune]

Every version is first validated against a float64 NumPy product (`matmul.validate`: poisoned
outputs, odd shapes, then each timed size); only then is anything timed. Times are GPU time per
product with the data already on the device, every rung and peer alike (gpu_timer.py: a batch of
launches queued behind a hold, CUDA events, median of 7 batches, after a warm-up, JIT compilation
excluded); without PyTorch, the host's clock, with a note. cuBLAS runs through PyTorch (or CuPy
for FP32) in the same run, in FP32 (TF32 off), TF32 and BF16, each the peer of the rungs of its
precision, with its operands converted once, as a PyTorch program holds them; each version's
percentage is of the peer in its own precision. A Triton matmul in the
style of Triton's tutorial runs beside them in FP32, TF32 and BF16. A peer that is not
installed is left out, with a note; so is a rung this GPU cannot run (the tensor-core rungs
below compute capability 8.0, the wgmma rungs below 9.0), in one line. The wgmma rungs' times
here include their staging pass, as `matmul()` runs them; wgmma_bench.py times their product
on staged operands. `--autotune` times every candidate tile shape
of versions 6 and 7 at each size, for the table `matmul.TUNED`. A warning follows the tables when
the machine was busy or the repeats were unsteady (shared/load_monitor.py).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
from numba import cuda

from phase4_cuda import matmul as mm
from phase4_cuda.device import LOW_OCCUPANCY_HINT, NoGPUError, gpu_name, require_gpu, simulated
from phase4_cuda.gpu_timer import Timer
from shared.load_monitor import LoadMonitor
from shared.results import BenchResults, markdown_table
from shared.timing import Timing, flop_rate, matmul_flops, time_call

CANDIDATE_TILES = [
    mm.Tiles(64, 64, 8, 4, 4),
    mm.Tiles(64, 64, 8, 4, 4, prefetch=True),
    mm.Tiles(64, 128, 8, 4, 8, prefetch=True),
    mm.Tiles(128, 64, 8, 8, 4, prefetch=True),
    mm.Tiles(128, 128, 8, 8, 8),
    mm.Tiles(128, 128, 8, 8, 8, min_blocks=2),
    mm.Tiles(128, 128, 8, 8, 8, min_blocks=2, prefetch=True),
    mm.Tiles(128, 128, 16, 8, 8, min_blocks=2, prefetch=True),
]


def _torch():
    """PyTorch with a CUDA GPU, or None."""
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def _as_used(torch, convert):
    """tensors(a, b, c): the PyTorch tensors of numba device arrays a, b, c, made by
    `convert(a, b, c)` the first time these arrays are seen and then reused, so that a peer's
    timed call is the product alone, as a PyTorch program holds its tensors."""
    converted = {}

    def tensors(a, b, c):
        key = (id(a), id(b), id(c))
        if key not in converted:
            converted.clear()
            converted[key] = convert(*(torch.as_tensor(x, device="cuda") for x in (a, b, c)))
        return converted[key]

    return tensors


def cublas_peer():
    """(name, matmul function on device arrays, sync) for cuBLAS SGEMM, through PyTorch (TF32
    off, like the kernels here) or else CuPy, or None."""
    if (torch := _torch()) is not None:
        tensors = _as_used(torch, lambda a, b, c: (a, b, c))

        def run(a, b, c):
            torch.backends.cuda.matmul.allow_tf32 = False
            ta, tb, tc = tensors(a, b, c)
            torch.matmul(ta, tb, out=tc)

        return "cuBLAS (PyTorch)", run, torch.cuda.synchronize
    try:
        import cupy as cp
    except ImportError:
        return None

    def run_cupy(a, b, c):
        cp.matmul(cp.asarray(a), cp.asarray(b), out=cp.asarray(c))

    return "cuBLAS (CuPy)", run_cupy, cp.cuda.Device().synchronize


def cublas_tf32_peer():
    """(name, matmul function on device arrays, sync) for cuBLAS with TF32 tensor cores (through
    PyTorch, which turns them on per call here), or None: the peer of the tf32 rungs."""
    if (torch := _torch()) is None:
        return None
    tensors = _as_used(torch, lambda a, b, c: (a, b, c))

    def run(a, b, c):
        torch.backends.cuda.matmul.allow_tf32 = True
        ta, tb, tc = tensors(a, b, c)
        torch.matmul(ta, tb, out=tc)
        torch.backends.cuda.matmul.allow_tf32 = False

    return "cuBLAS TF32 (PyTorch)", run, torch.cuda.synchronize


def cublas_bf16_peer():
    """(name, matmul function on device arrays, sync) for cuBLAS in BF16 through PyTorch, or
    None. Its operands are converted to bfloat16 once, outside the timing (what a BF16 model
    holds), and it writes bfloat16: half the bytes the tensor_bf16 rung moves, which reads
    float32 and writes float32."""
    if (torch := _torch()) is None:
        return None
    tensors = _as_used(
        torch,
        lambda a, b, c: (a.bfloat16(), b.bfloat16(), torch.empty_like(c, dtype=torch.bfloat16)),
    )

    def run(a, b, c):
        a16, b16, c16 = tensors(a, b, c)
        torch.matmul(a16, b16, out=c16)

    return "cuBLAS BF16 (PyTorch)", run, torch.cuda.synchronize


def triton_matmul():
    """run(a, b, c, precision): a Triton matmul written the way Triton's tutorial writes it
    (grouped block order, autotuned tile configurations) on PyTorch tensors a (M, K), b (K, N)
    into c (M, N), in 'fp32' (input_precision="ieee"), 'tf32' or 'bf16' (a and b bfloat16; c
    bfloat16 or float32); None without Triton. The one copy of it: this benchmark's Triton peers
    and wgmma_bench.py's both run it. What a Python programmer would write instead of numba."""
    try:
        import triton
        import triton.language as tl
    except ImportError:
        return None
    # the configurations of both harnesses that timed it (each had four): the autotuner keeps
    # the fastest for each shape and precision
    configs = [
        triton.Config({"BM": 128, "BN": 256, "BK": 64, "GROUP": 8}, num_stages=3, num_warps=8),
        triton.Config({"BM": 128, "BN": 128, "BK": 64, "GROUP": 8}, num_stages=4, num_warps=8),
        triton.Config({"BM": 128, "BN": 128, "BK": 32, "GROUP": 8}, num_stages=4, num_warps=4),
        triton.Config({"BM": 128, "BN": 64, "BK": 32, "GROUP": 8}, num_stages=4, num_warps=4),
        triton.Config({"BM": 64, "BN": 128, "BK": 64, "GROUP": 8}, num_stages=4, num_warps=4),
        triton.Config({"BM": 64, "BN": 128, "BK": 32, "GROUP": 8}, num_stages=4, num_warps=4),
    ]

    @triton.autotune(configs=configs, key=["M", "N", "K", "PRECISION"])
    @triton.jit
    def kernel(a, b, c, M, N, K, PRECISION: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr,
               BK: tl.constexpr, GROUP: tl.constexpr):  # fmt: skip
        pid = tl.program_id(0)
        blocks_m, blocks_n = tl.cdiv(M, BM), tl.cdiv(N, BN)
        in_group = GROUP * blocks_n
        first_m = (pid // in_group) * GROUP
        group_m = min(blocks_m - first_m, GROUP)
        pid_m = first_m + (pid % in_group) % group_m
        pid_n = (pid % in_group) // group_m
        rows = pid_m * BM + tl.arange(0, BM)
        cols = pid_n * BN + tl.arange(0, BN)
        ks = tl.arange(0, BK)
        acc = tl.zeros((BM, BN), dtype=tl.float32)
        for k0 in range(0, K, BK):
            x = tl.load(a + rows[:, None] * K + (k0 + ks)[None, :],
                        mask=(rows[:, None] < M) & ((k0 + ks)[None, :] < K), other=0.0)  # fmt: skip
            y = tl.load(b + (k0 + ks)[:, None] * N + cols[None, :],
                        mask=((k0 + ks)[:, None] < K) & (cols[None, :] < N), other=0.0)  # fmt: skip
            if PRECISION == "bf16":
                acc = tl.dot(x, y, acc)
            else:
                acc = tl.dot(x, y, acc, input_precision=PRECISION)
        tl.store(c + rows[:, None] * N + cols[None, :], acc.to(c.dtype.element_ty),
                 mask=(rows[:, None] < M) & (cols[None, :] < N))  # fmt: skip

    def run(a, b, c, precision: str) -> None:
        (m, k), n = a.shape, b.shape[1]

        def grid(meta):
            return (triton.cdiv(m, meta["BM"]) * triton.cdiv(n, meta["BN"]),)

        kernel[grid](a, b, c, m, n, k, PRECISION="ieee" if precision == "fp32" else precision)

    return run


def triton_peers() -> dict:
    """{precision: (name, matmul on device arrays, sync)} for `triton_matmul` in FP32, TF32 and
    BF16 (operands converted to bfloat16 once, outside the timing, and a bfloat16 output); {}
    without Triton and PyTorch."""
    try:
        import torch
        import triton
    except ImportError:
        return {}
    if not torch.cuda.is_available() or (matmul_triton := triton_matmul()) is None:
        return {}

    def runner(precision):
        def convert(a, b, c):
            if precision == "bf16":
                return a.bfloat16(), b.bfloat16(), torch.empty_like(c, dtype=torch.bfloat16)
            return a, b, c

        tensors = _as_used(torch, convert)

        def run(a, b, c):
            matmul_triton(*tensors(a, b, c), precision)

        return run

    name = f"Triton {triton.__version__}"
    return {p: (f"{name} {p.upper()}", runner(p), torch.cuda.synchronize) for p in mm.PRECISIONS}


#: cuBLAS in each precision of mm.PRECISIONS: the peer of the rungs that compute in it
CUBLAS_PEERS = {"fp32": cublas_peer, "tf32": cublas_tf32_peer, "bf16": cublas_bf16_peer}
#: the peer column each precision is compared with (FP32's keeps the name of the first runs)
PEER_COLUMN = {p: "cublas_tflops" if p == "fp32" else f"cublas_{p}_tflops" for p in mm.PRECISIONS}


def time_gpu(fn, sync, seconds: float = 0.2, repeat: int = 7):
    """Seconds per call of `fn` (asynchronous GPU work), launched back to back, median of repeats."""
    fn()
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    once = max(time.perf_counter() - t0, 1e-6)
    number = max(1, min(1000, int(seconds / repeat / once)))
    return time_call(fn, warmup=1, repeat=repeat, number=number, sync=sync)


@dataclass(frozen=True)
class GpuClock:
    """How the ladder times asynchronous GPU work: `measure(fn, sync)` -> Timing, the stream
    numba kernels launch on, and the note the report carries (None for the GPU's own clock)."""

    measure: Callable
    stream: object = 0
    note: str | None = None


def gpu_clock() -> GpuClock:
    """GPU time for every rung and peer alike (gpu_timer.Timer: launches queued behind a hold,
    timed by CUDA events), or without PyTorch, whose spin kernel holds the queue, the host's
    clock around back-to-back launches (time_gpu), with a note of what that misses."""
    if (torch := _torch()) is None:
        return GpuClock(time_gpu, 0, HOST_CLOCK_NOTE)
    timer = Timer(torch)

    def measure(fn, sync=None):
        t = timer.time(fn)
        return Timing(times=t["times"], number=t["iters"])

    return GpuClock(measure, timer.numba_stream)


HOST_CLOCK_NOTE = (
    "timed by the host's clock (no PyTorch for the GPU timer): below about n = 2048 a product "
    "takes the GPU less time than the host takes to launch it, and those rows measure launches"
)


def device_inputs(m, k, n, seed=0):
    """Random device operands a (m, k), b (k, n) and an output c (m, n)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    return cuda.to_device(a), cuda.to_device(b), cuda.device_array((m, n), np.float32)


def resources(results: BenchResults) -> None:
    """Registers, spills (local memory) and shared memory of every compiled kernel."""
    for name, kernel in mm.compiled_kernels().items():
        regs, local = kernel.get_regs_per_thread(), kernel.get_local_mem_per_thread()
        shared = kernel.get_shared_mem_per_block()
        for sig in regs:  # one entry per compiled signature
            results.add(
                kind="resources",
                kernel=name,
                registers=regs[sig],
                local_bytes=local[sig],
                shared_bytes=shared[sig],
            )


def warm_up(seconds: float = 1.5) -> None:
    """Keep the GPU busy before timing anything: an idle H100 sits at 345 MHz and takes a moment
    to reach its boost clock, which otherwise lands on whatever is measured first."""
    launch = mm.plan(mm.DEFAULT_VERSION, *device_inputs(2048, 2048, 2048, seed=9))
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(20):
            launch()
        cuda.synchronize()


def ladder(
    results: BenchResults, sizes, peers: dict, timings: dict[str, Timing], tritons=None,
    versions=mm.VERSIONS,
) -> None:  # fmt: skip
    """Validate, then time, every one of `versions` at each size, and each precision's cuBLAS
    peer (`peers`: precision -> peer or None); each Timing also goes into `timings`, by name, for
    the spread check."""
    warm_up()
    clock = gpu_clock()
    if clock.note:
        results.notes.append(clock.note)
    for n in sizes:
        mm.validate(versions, shapes=[(n, n, n)])
        da, db, dc = device_inputs(n, n, n)
        flops = matmul_flops(n, n, n)
        row = {"kind": "ladder", "n": n}
        for version in versions:
            t = clock.measure(mm.plan(version, da, db, dc, stream=clock.stream), cuda.synchronize)
            timings[f"n={n} {version}"] = t
            row[f"{version}_tflops"] = flop_rate(flops, t.median, "T")
            print(
                f"n={n} {version}: {t.median * 1e3:.3f} ms, {row[f'{version}_tflops']:.2f} TFLOP/s",
                file=sys.stderr,
            )
        columns = [(PEER_COLUMN[p], peer) for p, peer in peers.items()]
        columns += [(f"triton_{p}_tflops", t) for p, t in (tritons or {}).items()]
        for column, this_peer in columns:
            if this_peer:
                name, run, sync = this_peer
                t = clock.measure(partial(run, da, db, dc), sync)
                timings[f"n={n} {name}"] = t
                row[column] = flop_rate(flops, t.median, "T")
                print(f"n={n} {name}: {row[column]:.2f} TFLOP/s", file=sys.stderr)
        results.add(**row)


def autotune(results: BenchResults, sizes, timings: dict[str, Timing]) -> None:
    """Time every candidate tile shape of versions 6 and 7 at each size."""
    clock = gpu_clock()
    for n in sizes:
        da, db, dc = device_inputs(n, n, n, seed=1)
        best = None
        for version in ("double_buffered", "wide"):
            for tiles in CANDIDATE_TILES:
                if tiles.prefetch and version != "wide":
                    continue
                mm.validate([version], [(n, n, n)], tiles=tiles)
                launch = mm.plan(version, da, db, dc, tiles=tiles, stream=clock.stream)
                t = clock.measure(launch, cuda.synchronize)
                timings[f"autotune n={n} {version} {tiles}"] = t
                tflops = flop_rate(matmul_flops(n, n, n), t.median, "T")
                results.add(kind="autotune", n=n, version=version, tiles=str(tiles), tflops=tflops)
                print(f"autotune n={n} {version} {tiles}: {tflops:.2f} TFLOP/s", file=sys.stderr)
                if best is None or tflops > best[2]:
                    best = (version, tiles, tflops)
        print(f"autotune n={n}: best {best[0]} {best[1]} at {best[2]:.2f} TFLOP/s", file=sys.stderr)


@cuda.jit
def _empty(x):
    pass


def launch_overhead(results: BenchResults, timings: dict[str, Timing]) -> None:
    """Host-side cost of one numba kernel launch with one array argument, queued back to back."""
    x = cuda.device_array(1, np.float32)
    with warnings.catch_warnings():
        # one block on purpose (the launch is what is timed): numba's low-occupancy hint says
        # nothing here
        warnings.filterwarnings("ignore", message=LOW_OCCUPANCY_HINT)
        configured = _empty[1, 1]
        for label, fn in (
            ("kernel[1, 1](x)", lambda: _empty[1, 1](x)),
            ("pre-configured launch", lambda: configured(x)),
        ):
            t = time_call(fn, warmup=100, repeat=7, number=2000, sync=cuda.synchronize)
            timings[f"launch {label}"] = t
            results.add(kind="launch", how=label, microseconds=t.median * 1e6)


def report(results: BenchResults) -> str:
    out = []
    ladder_rows = [r for r in results.rows if r["kind"] == "ladder"]
    if ladder_rows:
        headers = ["version", "precision"] + [
            f"n={r['n']} TFLOP/s (% cuBLAS, same precision)" for r in ladder_rows
        ]
        table = []
        rows = [(v, mm.precision_of(v)) for v in mm.VERSIONS]
        rows += [(p.removesuffix("_tflops"), precision) for precision, p in PEER_COLUMN.items()]
        rows += [(f"triton_{precision}", precision) for precision in PEER_COLUMN]
        for version, precision in rows:
            if f"{version}_tflops" not in ladder_rows[0]:
                continue  # a peer that is not installed
            cells = [version, precision]
            for r in ladder_rows:
                tf, peer_tf = r[f"{version}_tflops"], r.get(PEER_COLUMN[precision])
                cells.append(f"{tf:.2f}" + (f" ({100 * tf / peer_tf:.0f}%)" if peer_tf else ""))
            table.append(cells)
        out.append(markdown_table(headers, table))
    res = [r for r in results.rows if r["kind"] == "resources"]
    if res:
        out.append(
            markdown_table(
                ["kernel", "registers", "spill (local bytes)", "shared bytes"],
                [[r["kernel"], r["registers"], r["local_bytes"], r["shared_bytes"]] for r in res],
            )
        )
    launch = [r for r in results.rows if r["kind"] == "launch"]
    if launch:
        out.append(
            markdown_table(
                ["launch", "microseconds"], [[r["how"], f"{r['microseconds']:.1f}"] for r in launch]
            )
        )
    tune = [r for r in results.rows if r["kind"] == "autotune"]
    if tune:
        out.append(
            markdown_table(
                ["n", "version", "tiles", "TFLOP/s"],
                [[r["n"], r["version"], r["tiles"], f"{r['tflops']:.2f}"] for r in tune],
            )
        )
    if footer := results.footer():
        out.append(footer)
    return "\n\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--json", help="write the results (with machine info) to this JSON file")
    parser.add_argument(
        "--autotune",
        action="store_true",
        help="time every candidate tile shape of versions 6 and 7",
    )
    args = parser.parse_args(argv)
    try:
        require_gpu()
    except NoGPUError as e:
        print(f"error: the benchmark needs a GPU: {e}", file=sys.stderr)
        return 2
    if simulated():
        print(
            "error: the benchmark needs a real GPU; the simulator only checks correctness",
            file=sys.stderr,
        )
        return 2
    results = BenchResults(name="phase4_matmul")
    results.machine["gpu"] = gpu_name()
    timings: dict[str, Timing] = {}
    # The host launches every kernel: others on the CPU matter.
    load = LoadMonitor().start()
    versions, left_out = mm.runnable(mm.VERSIONS)  # tensor cores need 8.0, wgmma 9.0
    if left_out:
        print(f"{results.machine['gpu']}: {left_out}", file=sys.stderr)
        results.notes.append(left_out)
    mm.validate(versions)
    peers = {
        p: CUBLAS_PEERS[p]() if p in mm.supported_precisions() else None for p in mm.PRECISIONS
    }
    if peers["fp32"] is None:
        results.notes.append("neither CuPy nor PyTorch is installed: no cuBLAS column")
    else:
        results.machine["peer"] = peers["fp32"][0]
    if peers["tf32"] is None and not left_out:
        results.notes.append("PyTorch is not installed: no cuBLAS TF32 and BF16 columns")
    tritons = {p: t for p, t in triton_peers().items() if p in mm.supported_precisions()}
    if not tritons:
        results.notes.append("Triton is not installed: no Triton rows")
    ladder(results, args.sizes, peers, timings, tritons, versions)
    if args.autotune:
        autotune(results, args.sizes, timings)
    launch_overhead(results, timings)
    resources(results)
    results.note_load(load.stop(), timings)
    print(report(results))
    print(f"\nGPU: {results.machine['gpu']}; CPU: {results.machine['cpu']}")
    if args.json:
        print(f"results written to {results.write_json(args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
