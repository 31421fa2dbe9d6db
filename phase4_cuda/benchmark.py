"""Benchmark of Phase 4 on a GPU: the matmul ladder against cuBLAS, launch overhead, and the
performance roadmap of one 1000x1000 product from pure Python to cuBLAS.

    python -m phase4_cuda.benchmark [--sizes 1024 2048 4096] [--json FILE] [--autotune]
                                    [--no-roadmap]

Every version is first validated against a float64 NumPy product (poisoned outputs, odd shapes);
only then is anything timed. GPU times are per product with the data already on the device,
measured over back-to-back launches after a warm-up (JIT compilation excluded), median of
repeats. cuBLAS SGEMM runs through CuPy (or PyTorch, with TF32 off) in the same run; the column is
left out, with a note, when neither is installed. `--autotune` times every candidate tile shape
of versions 6 and 7 at each size, for the table `matmul.TUNED`. A warning follows the tables when
the machine was busy or the repeats were unsteady (shared/bench.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial

import numpy as np
from numba import cuda

from phase4_cuda import matmul as mm
from phase4_cuda.device import NoGPUError, gpu_name, require_gpu, simulated
from shared.bench import (
    BenchResults,
    LoadMonitor,
    Timing,
    flop_rate,
    markdown_table,
    matmul_flops,
    time_call,
)

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


def cublas_peer():
    """(name, matmul function on device arrays, sync) for cuBLAS SGEMM, or None."""
    try:
        import cupy as cp

        def run(a, b, c):
            cp.matmul(cp.asarray(a), cp.asarray(b), out=cp.asarray(c))

        return "cuBLAS (CuPy)", run, cp.cuda.Device().synchronize
    except ImportError:
        pass
    try:
        import torch

        if not torch.cuda.is_available():
            return None
        torch.backends.cuda.matmul.allow_tf32 = False  # plain SGEMM, like the kernels here

        def run(a, b, c):
            torch.matmul(
                torch.as_tensor(a, device="cuda"),
                torch.as_tensor(b, device="cuda"),
                out=torch.as_tensor(c, device="cuda"),
            )

        return "cuBLAS (PyTorch)", run, torch.cuda.synchronize
    except ImportError:
        return None


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


def device_inputs(m, k, n, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    return a, b, cuda.to_device(a), cuda.to_device(b), cuda.device_array((m, n), np.float32)


def check(version, da, db, dc, a, b, **options):
    dc.copy_to_device(np.full(dc.shape, np.nan, np.float32))
    mm.launch(version, da, db, dc, **options)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    err = mm.relative_error(dc.copy_to_host(), ref)
    if not err <= 1e-5:
        raise AssertionError(
            f"{version} {options or ''} at {a.shape}@{b.shape}: relative error {err:.2e}"
        )
    return err


def resources(results: BenchResults) -> None:
    """Registers, spills (local memory) and shared memory of every compiled kernel."""
    kernels = {
        "naive": mm.matmul_naive,
        "tiled": mm.matmul_tiled,
        "blocked1d": mm.matmul_blocked1d,
        "blocked2d": mm.matmul_blocked2d,
        "unsigned": mm.matmul_unsigned,
    }
    options = ("bias", "trans_a", "trans_b", "mask", "col_sums", "split_k")
    for key, kernel in mm._KERNELS.items():  # the key: gemm_kernel's arguments, in order
        tiles, wide, act, *flags = key
        extras = (f" +{act}" if act else "") + "".join(
            f" +{name}" for name, on in zip(options, flags, strict=True) if on
        )
        kernels[f"{'wide' if wide else 'double_buffered'} {tiles}{extras}"] = kernel
    for name, kernel in kernels.items():
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
    _, _, da, db, dc = device_inputs(2048, 2048, 2048, seed=9)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(20):
            mm.launch("wide", da, db, dc)
        cuda.synchronize()


def ladder(results: BenchResults, sizes, peer, timings: dict[str, Timing]) -> None:
    """Validate, then time, every version at each size; each Timing also goes into `timings`, by
    name, for the spread check."""
    warm_up()
    for n in sizes:
        a, b, da, db, dc = device_inputs(n, n, n)
        for version in mm.VERSIONS:
            check(version, da, db, dc, a, b)
        flops = matmul_flops(n, n, n)
        row = {"kind": "ladder", "n": n}
        for version in mm.VERSIONS:
            t = time_gpu(partial(mm.launch, version, da, db, dc), cuda.synchronize)
            timings[f"n={n} {version}"] = t
            row[f"{version}_tflops"] = flop_rate(flops, t.median, "T")
            print(
                f"n={n} {version}: {t.median * 1e3:.3f} ms, {row[f'{version}_tflops']:.2f} TFLOP/s",
                file=sys.stderr,
            )
        if peer:
            name, run, sync = peer
            t = time_gpu(partial(run, da, db, dc), sync)
            timings[f"n={n} {name}"] = t
            row["cublas_tflops"] = flop_rate(flops, t.median, "T")
            print(f"n={n} {name}: {row['cublas_tflops']:.2f} TFLOP/s", file=sys.stderr)
        results.add(**row)


def autotune(results: BenchResults, sizes, timings: dict[str, Timing]) -> None:
    """Time every candidate tile shape of versions 6 and 7 at each size."""
    for n in sizes:
        a, b, da, db, dc = device_inputs(n, n, n, seed=1)
        best = None
        for version in ("double_buffered", "wide"):
            for tiles in CANDIDATE_TILES:
                if tiles.prefetch and version != "wide":
                    continue
                check(version, da, db, dc, a, b, tiles=tiles)
                t = time_gpu(partial(mm.launch, version, da, db, dc, tiles=tiles), cuda.synchronize)
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
    configured = _empty[1, 1]
    for label, fn in (
        ("kernel[1, 1](x)", lambda: _empty[1, 1](x)),
        ("pre-configured launch", lambda: configured(x)),
    ):
        t = time_call(fn, warmup=100, repeat=7, number=2000, sync=cuda.synchronize)
        timings[f"launch {label}"] = t
        results.add(kind="launch", how=label, microseconds=t.median * 1e6)


def roadmap(results: BenchResults, peer, timings: dict[str, Timing], n: int = 1000) -> None:
    """One n x n product by every route, on this machine, in this run; its Timings go into
    `timings` (for the spread check), like those of the functions above."""
    from phase1_python.matrix import Matrix

    rng = np.random.default_rng(2)
    a64, b64 = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    a32, b32, da, db, dc = a64.astype(np.float32), b64.astype(np.float32), None, None, None
    da, db, dc = cuda.to_device(a32), cuda.to_device(b32), cuda.device_array((n, n), np.float32)
    rows = []  # (route, Timing)
    pa, pb = Matrix(a64.tolist()), Matrix(b64.tolist())
    rows.append(
        (
            "Pure Python (Phase 1, float64)",
            time_call(partial(Matrix.__matmul__, pa, pb), warmup=0, repeat=1),
        )
    )
    rows.append(("NumPy / OpenBLAS (float64)", time_call(partial(np.matmul, a64, b64), repeat=20)))
    rows.append(("NumPy / OpenBLAS (float32)", time_call(partial(np.matmul, a32, b32), repeat=20)))
    try:
        import phase3_c

        c_matmul = getattr(phase3_c, "matmul", None)
    except ImportError:
        c_matmul = None
    if c_matmul is not None:
        rows.append(("C (Phase 3, float32)", time_call(partial(c_matmul, a32, b32), repeat=10)))
    else:
        results.notes.append("roadmap: Phase 3 (C) is not installed here, so its row is missing")
    check("naive", da, db, dc, a32, b32)
    rows.append(
        (
            "CUDA naive (version 1)",
            time_gpu(partial(mm.launch, "naive", da, db, dc), cuda.synchronize),
        )
    )
    best = mm.pick_version(n, n, n)
    check(best, da, db, dc, a32, b32)
    rows.append(
        (
            f"CUDA best ({best})",
            time_gpu(partial(mm.launch, best, da, db, dc), cuda.synchronize),
        )
    )
    if peer:
        rows.append((peer[0], time_gpu(partial(peer[1], da, db, dc), peer[2])))
    python_s = rows[0][1].median
    for route, t in rows:
        timings[f"roadmap {route}"] = t
        results.add(
            kind="roadmap",
            n=n,
            route=route,
            seconds=t.median,
            speedup_over_python=python_s / t.median,
        )


def report(results: BenchResults) -> str:
    out = []
    ladder_rows = [r for r in results.rows if r["kind"] == "ladder"]
    if ladder_rows:
        has_peer = "cublas_tflops" in ladder_rows[0]
        headers = ["version"] + [
            f"n={r['n']} TFLOP/s" + (" (% cuBLAS)" if has_peer else "") for r in ladder_rows
        ]
        table = []
        for version in [*mm.VERSIONS, "cublas"]:
            if version == "cublas" and not has_peer:
                continue
            cells = [version]
            for r in ladder_rows:
                tf = r[f"{version}_tflops"]
                cells.append(
                    f"{tf:.2f}" + (f" ({100 * tf / r['cublas_tflops']:.0f}%)" if has_peer else "")
                )
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
    road = [r for r in results.rows if r["kind"] == "roadmap"]
    if road:
        out.append(
            markdown_table(
                ["route (1000x1000 product)", "time", "speed-up over pure Python"],
                [
                    [
                        r["route"],
                        f"{r['seconds'] * 1e3:.3f} ms",
                        f"{r['speedup_over_python']:,.0f}x",
                    ]
                    for r in road
                ],
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
    warning = results.load_warning
    out.extend(f"Note: {note}" for note in results.notes if note != warning)
    if warning:
        out.append(f"Warning: {warning}")
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
    parser.add_argument(
        "--no-roadmap",
        action="store_true",
        help="skip the 1000x1000 roadmap (it runs pure Python: about 20 s)",
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
    # The host launches every kernel and runs the roadmap's CPU routes: others on the CPU matter.
    load = LoadMonitor().start()
    mm.validate()
    peer = cublas_peer()
    if peer is None:
        results.notes.append("neither CuPy nor PyTorch is installed: no cuBLAS column")
    else:
        results.machine["peer"] = peer[0]
    ladder(results, args.sizes, peer, timings)
    if args.autotune:
        autotune(results, args.sizes, timings)
    launch_overhead(results, timings)
    if not args.no_roadmap:
        roadmap(results, peer, timings)
    resources(results)
    results.note_load(load.stop(), timings)
    print(report(results))
    print(f"\nGPU: {results.machine['gpu']}; CPU: {results.machine['cpu']}")
    if args.json:
        print(f"results written to {results.write_json(args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
