"""The performance roadmap: one n x n matrix product by every route the project has, timed in one
run on this machine, from Phase 1's pure Python to cuBLAS.

    python -m phase6_report.roadmap [--n 1000] [--json FILE]

Routes: Phase 1 (pure Python, float64), NumPy / OpenBLAS (float64 and float32), Phase 3's C
library (float32, its C-API binding), and where a GPU is usable, Phase 4's naive kernel, its
default (fastest) version, its TF32 tensor-core version (inputs rounded to 10 mantissa bits:
checked at TF32's tolerance) and cuBLAS SGEMM (through CuPy or PyTorch, when one is installed).
Every route's result is checked against a float64 NumPy product before it is timed. It lives on
the top floor because it runs every phase: a lower phase never imports a higher one.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial

import numpy as np

from shared.load_monitor import LoadMonitor
from shared.machine import gpu_status
from shared.results import BenchResults, markdown_table
from shared.testing import relative_error
from shared.timing import Timing, time_call

__all__ = ["add_routes", "main", "roadmap"]

#: the largest relative error a route may have (float32 routes: summation order and rounding)
TOLERANCE = 1e-5


def _checked(route: str, got, ref: np.ndarray) -> None:
    err = relative_error(got, ref)
    if not err <= TOLERANCE:
        raise AssertionError(f"roadmap: {route} is wrong: relative error {err:.2e}")


def _gpu_routes(a32, b32, ref, results: BenchResults) -> list[tuple[str, Timing]]:
    """Phase 4's naive and default versions and cuBLAS, each validated first."""
    from numba import cuda

    from phase4_cuda import matmul as mm
    from phase4_cuda.benchmark import cublas_peer, time_gpu

    n = a32.shape[0]
    tensor = mm.PRECISIONS["tf32"][0]
    routes = [
        ("CUDA naive (version 1)", "naive"),
        (f"CUDA best ({mm.DEFAULT_VERSION})", mm.DEFAULT_VERSION),
    ]
    if why := mm.unsupported("tf32"):
        results.notes.append(f"no tensor-core row: {why}")
    else:
        routes.append((f"CUDA tensor cores ({tensor}, TF32)", tensor))
    mm.validate([version for _, version in routes], [(n, n, n)])
    da, db = cuda.to_device(a32), cuda.to_device(b32)
    dc = cuda.device_array((n, n), np.float32)
    rows = []
    for route, version in routes:
        rows.append((route, time_gpu(mm.plan(version, da, db, dc), cuda.synchronize)))
    peer = cublas_peer()
    if peer is None:
        results.notes.append("neither CuPy nor PyTorch is installed: no cuBLAS row")
    else:
        name, run, sync = peer
        run(da, db, dc)
        sync()
        _checked(name, dc.copy_to_host(), ref)
        rows.append((name, time_gpu(partial(run, da, db, dc), sync)))
        results.machine["peer"] = name
    return rows


def roadmap(results: BenchResults, timings: dict[str, Timing], n: int = 1000) -> None:
    """Time every route this machine has on one n x n product; rows go into `results`, Timings
    into `timings` (for the spread check)."""
    from phase1_python.matrix import Matrix

    rng = np.random.default_rng(2)
    a64, b64 = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    a32, b32 = a64.astype(np.float32), b64.astype(np.float32)
    ref = a64 @ b64
    ref32 = a32.astype(np.float64) @ b32.astype(np.float64)
    pa, pb = Matrix(a64.tolist()), Matrix(b64.tolist())
    product = []  # pure Python runs once (about 20 s at n = 1000): keep what it computed

    def python_product() -> None:
        product.append(pa @ pb)

    rows = [
        ("Pure Python (Phase 1, float64)", time_call(python_product, warmup=0, repeat=1)),
        ("NumPy / OpenBLAS (float64)", time_call(partial(np.matmul, a64, b64), repeat=20)),
        ("NumPy / OpenBLAS (float32)", time_call(partial(np.matmul, a32, b32), repeat=20)),
    ]
    _checked("Pure Python", product[0].data, ref)
    try:
        import phase3_c
    except ImportError:
        results.notes.append("Phase 3 (C) is not installed here, so its row is missing")
    else:
        _checked("C (Phase 3)", phase3_c.matmul(a32, b32), ref32)
        rows.append(
            ("C (Phase 3, float32)", time_call(partial(phase3_c.matmul, a32, b32), repeat=10))
        )
    gpu = gpu_status()
    if gpu.usable:
        rows += _gpu_routes(a32, b32, ref32, results)
        results.machine["gpu"] = gpu.summary
    else:
        results.notes.append(f"no GPU routes: {gpu.summary}")
    add_routes(results, timings, rows, kind="roadmap", n=n)


def add_routes(
    results: BenchResults, timings: dict[str, Timing], rows, kind: str, **fields
) -> None:
    """One results row per (route, Timing), the first route (pure Python) the yardstick of every
    speed-up; each Timing also goes into `timings` for the spread check. Both roadmaps use it."""
    python_s = rows[0][1].median
    for route, t in rows:
        timings[route] = t
        results.add(
            kind=kind,
            route=route,
            **fields,
            seconds=t.median,
            speedup_over_python=python_s / t.median,
        )


def report(results: BenchResults) -> str:
    rows = [r for r in results.rows if r["kind"] == "roadmap"]
    out = [
        markdown_table(
            [f"route ({rows[0]['n']}x{rows[0]['n']} product)", "time", "speed-up over pure Python"],
            [
                [r["route"], f"{r['seconds'] * 1e3:.3f} ms", f"{r['speedup_over_python']:,.0f}x"]
                for r in rows
            ],
        )
    ]
    if footer := results.footer():
        out.append(footer)
    return "\n\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1000, help="the product's size (default: %(default)s)")
    p.add_argument("--json", help="write the results (with machine info) to this JSON file")
    args = p.parse_args(argv)
    if args.n < 1:
        p.error(f"--n must be at least 1, got {args.n}")
    results = BenchResults(name="roadmap")
    timings: dict[str, Timing] = {}
    load = LoadMonitor().start()
    roadmap(results, timings, args.n)
    results.note_load(load.stop(), timings)
    print(report(results))
    if args.json:
        print(f"results written to {results.write_json(args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
