"""Benchmark: the pure-Python matrix product against the naive triple loop and against NumPy.

    python -m phase1_python.benchmark [--sizes 100 200 500] [--large] [--json FILE]

For each n it multiplies two random n x n float64 matrices with the textbook i-j-k loop
(`matmul_naive`), with `Matrix.__matmul__` (transpose once + C-level dot products) and with NumPy
(OpenBLAS), all in this one run, checks that the three agree, and prints
"Size | Naive i-j-k | Pure Python | NumPy | Speedup" where Speedup is NumPy over pure Python,
with a warning under it when the machine was busy or the repeats unsteady (shared/load_monitor.py).
`--large` adds n = 1000 (about a minute for the pure-Python product and more for the naive loop).
"""

from __future__ import annotations

import argparse
import sys
from functools import partial

import numpy as np

from phase1_python.matrix import Matrix, matmul_naive
from shared.load_monitor import LoadMonitor
from shared.results import BenchResults, markdown_table
from shared.timing import Timing, flop_rate, matmul_flops, time_call


def run(sizes: list[int], seed: int = 0, max_seconds: float = 5.0) -> BenchResults:
    results = BenchResults(name="phase1_matmul")
    results.notes.append(
        "float64; times are the median of up to 5 repeats (fewer once a size has used "
        f"{max_seconds:g} s); NumPy uses its default BLAS threads"
    )
    rng = np.random.default_rng(seed)
    timings: dict[str, Timing] = {}
    load = LoadMonitor().start()  # over the whole run: was the machine quiet enough to measure?
    for n in sizes:
        a_np, b_np = rng.standard_normal((n, n)), rng.standard_normal((n, n))
        a, b = Matrix(a_np.tolist()), Matrix(b_np.tolist())
        expected = a_np @ b_np
        for name, result in (("naive", matmul_naive(a, b)), ("pure", a @ b)):
            err = np.max(np.abs(np.array(result.tolist()) - expected)) / np.max(np.abs(expected))
            if err > 1e-12:
                raise AssertionError(f"{name} product differs from NumPy at n={n}: {err:.2e}")
        repeat = 5
        naive = time_call(
            partial(matmul_naive, a, b), warmup=0, repeat=repeat, max_seconds=max_seconds
        )
        pure = time_call(
            partial(Matrix.__matmul__, a, b), warmup=0, repeat=repeat, max_seconds=max_seconds
        )
        numpy_t = time_call(
            partial(np.matmul, a_np, b_np), warmup=2, repeat=max(repeat, 20), max_seconds=1.0
        )
        flops = matmul_flops(n, n, n)
        results.add(
            n=n,
            naive_s=naive.median,
            pure_s=pure.median,
            numpy_s=numpy_t.median,
            naive_gflops=flop_rate(flops, naive.median),
            pure_gflops=flop_rate(flops, pure.median),
            numpy_gflops=flop_rate(flops, numpy_t.median),
            pure_over_naive=naive.median / pure.median,
            numpy_over_pure=pure.median / numpy_t.median,
            numpy_over_naive=naive.median / numpy_t.median,
        )
        print(
            f"n={n}: naive {naive.median:.3g} s, pure {pure.median:.3g} s, numpy {numpy_t.median:.3g} s",
            file=sys.stderr,
        )
        timings.update({f"naive n={n}": naive, f"pure n={n}": pure, f"numpy n={n}": numpy_t})
    results.note_load(load.stop(), timings)
    return results


def table(results: BenchResults) -> str:
    rows = [
        [
            r["n"],
            f"{r['naive_s']:.4g} s",
            f"{r['pure_s']:.4g} s",
            f"{r['numpy_s'] * 1e3:.3g} ms",
            f"{r['pure_over_naive']:.1f}x",
            f"{r['numpy_over_pure']:,.0f}x",
        ]
        for r in results.rows
    ]
    headers = [
        "Size",
        "Naive i-j-k",
        "Pure Python",
        "NumPy",
        "Pure Python vs naive",
        "Speedup (NumPy vs Pure Python)",
    ]
    return markdown_table(headers, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 200, 500])
    parser.add_argument("--large", action="store_true", help="also run n = 1000")
    parser.add_argument("--json", help="write the results (with machine info) to this JSON file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sizes = args.sizes + ([1000] if args.large and 1000 not in args.sizes else [])
    if any(n < 1 for n in sizes):
        parser.error(f"sizes must be positive, got {sizes}")
    results = run(sizes, seed=args.seed)
    print(table(results))
    if footer := results.footer():
        print(f"\n{footer}")
    m = results.machine
    print(f"\n{m['cpu']}, {m['cpu_count']} cores, Python {m['python']}, NumPy {m['numpy']}")
    if args.json:
        print(f"results written to {results.write_json(args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
