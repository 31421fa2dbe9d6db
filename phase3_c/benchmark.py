"""Benchmark of Phase 3: the C products against NumPy/OpenBLAS and pure Python, and the price of
crossing into C through each binding.

    python -m phase3_c.benchmark [--sizes 100 500 1000 2048] [--threads 1 2] [--large] [--json F]

For each thread count a child process runs with OMP_NUM_THREADS and OPENBLAS_NUM_THREADS set,
so the C library and NumPy get the same number of threads. In it, every route multiplies the same
random n x n matrices (checked against NumPy first) in float64 and float32: the naive and i-k-j C
loops (float64, n <= 1000), the packed C product through each binding, NumPy, and (one thread,
n <= 500, or 1000 with --large) Phase 1's pure-Python product and its naive triple loop. Times are
medians after a warm-up. Also: microseconds per call of a 2x2 add through each binding and NumPy.
The parent watches the machine over the whole run and prints a warning under the tables when it was
busy or the repeats were unsteady (shared/load_monitor.py): the children's CPU time counts as its own.
It names the micro-kernel the C product ran (`avx512`, `avx2`, `neon`, `generic`; NN_MATRIX_KERNEL forces
one) and the kernels NumPy's OpenBLAS picked, and warns when OPENBLAS_CORETYPE holds them down.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from functools import partial

import numpy as np

import phase3_c
from shared.load_monitor import LoadMonitor
from shared.machine import openblas_warning
from shared.results import BenchResults, markdown_table
from shared.timing import Timing, flop_rate, matmul_flops, time_call


def child(sizes: list[int], threads: int, large: bool) -> dict:
    """Rows of medians, and `times`: the seconds of every repeat by label, for the spread check."""
    rows = []
    times: dict[str, list[float]] = {}

    def _time(fn, seconds: float, label: str) -> float:
        fn()  # warm-up (and the first call's thread start-up)
        timing = time_call(fn, warmup=1, repeat=7, max_seconds=seconds)
        times[label] = timing.times
        return timing.median

    rng = np.random.default_rng(0)
    for n in sizes:
        a64, b64 = rng.standard_normal((n, n)), rng.standard_normal((n, n))
        flops = matmul_flops(n, n, n)
        for dtype in (np.float64, np.float32):
            a, b = a64.astype(dtype), b64.astype(dtype)
            row = {"n": n, "dtype": np.dtype(dtype).name, "threads": threads}
            label = f"n={n} {row['dtype']}"
            row["numpy_s"] = _time(partial(np.matmul, a, b), 2.0, f"{label} numpy")
            for name, binding in phase3_c.BINDINGS.items():
                got = binding.matmul(a, b)
                err = np.abs(got - a64 @ b64).max() / np.abs(a64 @ b64).max()
                if err > (1e-12 if dtype == np.float64 else 1e-5):
                    raise AssertionError(f"{name} matmul differs from NumPy at n={n}: {err:.1e}")
                row[f"c_{name}_s"] = _time(partial(binding.matmul, a, b), 4.0, f"{label} {name}")
            if dtype == np.float64 and n <= 1000:
                naive, ikj = phase3_c.matmul_naive, phase3_c.matmul_ikj
                row["c_naive_s"] = _time(partial(naive, a, b), 4.0, f"{label} C naive")
                row["c_ikj_s"] = _time(partial(ikj, a, b), 4.0, f"{label} C i-k-j")
            if dtype == np.float64 and threads == 1 and (n <= 500 or (large and n <= 1000)):
                from phase1_python.matrix import Matrix, matmul_naive

                pa, pb = Matrix(a.tolist()), Matrix(b.tolist())
                once = partial(time_call, warmup=0, repeat=1)
                row["python_s"] = once(partial(Matrix.__matmul__, pa, pb)).median
                row["python_naive_s"] = once(partial(matmul_naive, pa, pb)).median
            for key in [k for k in row if k.endswith("_s")]:
                row[key.replace("_s", "_gflops")] = flop_rate(flops, row[key])
            rows.append(row)
    if threads == 1:  # the price of one call: a 2x2 add
        x = np.ones((2, 2))
        cost = {"kind": "call", "numpy_us": _time(partial(np.add, x, x), 0.5, "add numpy") * 1e6}
        for name, binding in phase3_c.BINDINGS.items():
            cost[f"{name}_us"] = _time(partial(binding.add, x, x), 0.5, f"add {name}") * 1e6
        rows.append(cost)
    return {"rows": rows, "times": times}


def run(sizes: list[int], thread_counts: list[int], large: bool) -> BenchResults:
    results = BenchResults(name="phase3_matmul")
    results.machine["c_kernel"] = phase3_c.kernel_name()
    if warning := openblas_warning(results.machine.get("openblas", {})):
        results.notes.append(warning)
    timings: dict[str, Timing] = {}
    # Over the whole run, children included: their CPU time is ours once subprocess.run has
    # waited for them, so only what other processes used counts against the machine.
    load = LoadMonitor().start()
    for threads in thread_counts:
        env = os.environ | {"OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads)}
        cmd = [
            sys.executable,
            "-P",
            "-m",
            "phase3_c.benchmark",
            "--child",
            str(threads),
            "--sizes",
            *map(str, sizes),
        ]
        cmd += ["--large"] if large else []
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode:
            raise RuntimeError(f"benchmark child ({threads} threads) failed:\n{done.stderr}")
        out = json.loads(done.stdout)
        for row in out["rows"]:
            results.add(**row)
        for label, seconds in out["times"].items():
            timings[f"{label}, {threads} thread(s)"] = Timing(seconds)
        print(f"{threads} thread(s) done", file=sys.stderr)
    results.note_load(load.stop(), timings)
    return results


def report(results: BenchResults) -> str:
    """Two tables: times by route (the packed product through the C-API binding), then GFLOP/s of
    the packed product through each binding next to NumPy; and the per-call costs."""

    def ms(row, key):
        return f"{row[key] * 1e3:,.3g} ms" if key in row else ""

    routes, rates = [], []
    names = list(phase3_c.BINDINGS)
    for r in results.rows:
        if r.get("kind") == "call":
            continue
        best = min(r[f"c_{name}_s"] for name in names)
        routes.append([
            r["n"], r["dtype"], r["threads"], ms(r, "python_naive_s"), ms(r, "python_s"), ms(r, "c_naive_s"),
            ms(r, "c_ikj_s"), ms(r, "c_capi_s"), ms(r, "numpy_s"),
            f"{r['python_naive_s'] / r['c_capi_s']:,.0f}x" if "python_naive_s" in r else "",
        ])  # fmt: skip
        rates.append(
            [r["n"], r["dtype"], r["threads"]]
            + [f"{r[f'c_{name}_gflops']:.1f}" for name in names]
            + [f"{r['numpy_gflops']:.1f}", f"{100 * r['numpy_s'] / best:.0f}%"]
        )
    headers = [
        "n", "dtype", "threads", "Python naive", "Python (Phase 1)", "C naive", "C i-k-j",
        "C packed", "NumPy", "C packed over naive Python",
    ]  # fmt: skip
    out = [markdown_table(headers, routes)]
    rate_headers = ["n", "dtype", "threads"] + [f"{name} GFLOP/s" for name in names]
    out.append(markdown_table([*rate_headers, "NumPy GFLOP/s", "best C / NumPy"], rates))
    for r in results.rows:
        if r.get("kind") == "call":
            cells = [[name, f"{r[f'{name}_us']:.2f}"] for name in ["numpy", *names]]
            out.append(markdown_table(["2x2 add through", "microseconds per call"], cells))
    return "\n\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 1000, 2048])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--large", action="store_true", help="also time pure Python at n = 1000 (about 90 s)"
    )
    parser.add_argument("--json", help="write the results (with machine info) to this JSON file")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.sizes, args.child, args.large)))
        return 0
    results = run(args.sizes, args.threads, args.large)
    print(report(results))
    if footer := results.footer():
        print(f"\n{footer}")
    m = results.machine
    blas = m.get("openblas", {}).get("corename", "another BLAS")
    print(
        f"\n{m['cpu']}, {m['cpu_count']} cores; C micro-kernel: {m['c_kernel']}; "
        f"NumPy {m['numpy']} with OpenBLAS's {blas} kernels"
    )
    if args.json:
        print(f"results written to {results.write_json(args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
