"""The figures of the benchmarks: how fast each route and each phase ran (the performance and
training roadmaps, the matmul ladder). Each function takes a results file's rows and writes one
PNG (plots.py has what they share)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from phase6_report.plots import FIGSIZE, empty_panel, require_matplotlib, save

__all__ = ["matmul_ladder", "performance_roadmap", "training_roadmap"]


def performance_roadmap(
    rows: Sequence[Mapping],
    out: str | Path,
    title: str = "",
    xlabel: str = "time of one product, milliseconds (log scale)",
) -> Path:
    """One n x n product (or one training step) by every route, on a log time axis, each bar
    labelled with its speed-up over pure Python. rows: a roadmap's rows (phase6_report.roadmap
    or .training_roadmap: route, seconds), all from one run on one machine."""
    plt = require_matplotlib()
    if not rows:
        raise ValueError("performance_roadmap: no roadmap rows")
    routes = [r["route"] for r in rows]
    seconds = np.array([r["seconds"] for r in rows], dtype=float)
    base = seconds[0] if "python" in routes[0].lower() else seconds.max()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    colors = [_route_color(name) for name in routes]
    y = np.arange(len(rows))[::-1]
    ax.barh(y, seconds * 1e3, color=colors)
    ax.set_xscale("log")
    ax.set_yticks(y, routes)
    ax.set_xlabel(xlabel)
    for yi, s in zip(y, seconds, strict=True):
        ax.text(s * 1e3 * 1.15, yi, f"{base / s:,.0f}x", va="center", fontsize=9)
    ax.set_xlim(seconds.min() * 1e3 / 3, seconds.max() * 1e3 * 30)
    n = rows[0].get("n")
    fastest = routes[int(np.argmin(seconds))].split(" (")[0]
    ax.set_title(title or f"A {n}x{n} matrix product, from pure Python to {fastest}")
    fig.tight_layout()
    return save(fig, out)


def training_roadmap(rows: Sequence[Mapping], out: str | Path) -> Path:
    """One training step of the same network by every route (phase6_report.training_roadmap)."""
    if not rows:
        raise ValueError("training_roadmap: no rows")
    widths = "-".join(map(str, rows[0].get("widths", ())))
    return performance_roadmap(
        rows,
        out,
        title=f"One training step ({widths}, batch {rows[0]['batch']}), from pure Python up",
        xlabel="time of one training step, milliseconds (log scale)",
    )


def _route_color(name: str) -> str:
    lower = name.lower()
    for key, color in (
        ("python", "#8c564b"), ("numpy", "#1f77b4"), ("c (", "#2ca02c"), ("c library", "#2ca02c"), ("c-api", "#2ca02c"),
        ("ctypes", "#2ca02c"), ("pybind", "#2ca02c"), ("cublas", "#7f7f7f"), ("cuda", "#d62728"),
    ):  # fmt: skip
        if key in lower:
            return color
    return "#9467bd"


def matmul_ladder(
    ladder_rows: Sequence[Mapping], c_rows: Sequence[Mapping], out: str | Path
) -> Path:
    """Left: each CUDA version as a percentage of cuBLAS at each size (Phase 4's `ladder` rows:
    n, <version>_tflops, cublas_tflops). Right: each C binding as a percentage of NumPy across
    sizes (Phase 3's rows: n, dtype, threads, numpy_s, c_<binding>_s). Either may be empty."""
    plt = require_matplotlib()
    fig, (left, right) = plt.subplots(1, 2, figsize=FIGSIZE)
    if ladder_rows:
        sizes = [r["n"] for r in ladder_rows]
        versions = [k[: -len("_tflops")] for k in ladder_rows[0] if k.endswith("_tflops")]
        # the float32 rungs against cuBLAS SGEMM; the tensor-core rungs compute in a precision of
        # their own, compared with their own cuBLAS peer in Phase 4's table, not here
        versions = [v for v in versions if not v.startswith(("cublas", "tensor", "triton"))]
        width = 0.8 / len(sizes)
        x = np.arange(len(versions))
        for i, row in enumerate(ladder_rows):
            pct = [100 * row[f"{v}_tflops"] / row["cublas_tflops"] for v in versions]
            left.bar(x + (i - (len(sizes) - 1) / 2) * width, pct, width, label=f"n = {row['n']}")
        left.set_xticks(x, versions, rotation=35, ha="right")
        left.axhline(100, color="gray", linestyle="--", linewidth=1)
        left.set_ylabel("% of cuBLAS SGEMM")
        left.set_title("Phase 4: CUDA versions")
        left.legend(fontsize=8)
    else:
        empty_panel(left, "no Phase 4 ladder results (needs a GPU)")
    if c_rows:
        styles = {"capi": "o", "pybind11": "s", "ctypes": "^"}
        for (dtype, threads), rows in sorted(_group(c_rows, ("dtype", "threads")).items()):
            rows = sorted(rows, key=lambda r: r["n"])
            # every binding on one thread; on more, only the C-API (the lines would overlap)
            for binding in styles if threads == 1 else ("capi",):
                key = f"c_{binding}_s"
                pts = [(r["n"], 100 * r["numpy_s"] / r[key]) for r in rows if r.get(key)]
                if pts:
                    right.plot(*zip(*pts, strict=True), "-" if threads == 1 else ":",
                               marker=styles[binding], markersize=4,
                               label=f"{binding} {dtype}, {threads} thread{'s' * (threads > 1)}")  # fmt: skip
        right.axhline(100, color="gray", linestyle="--", linewidth=1)
        right.set_xscale("log")
        right.set_xlabel("n (n x n product)")
        right.set_ylabel("% of NumPy / OpenBLAS")
        right.set_title("Phase 3: C bindings")
        right.legend(fontsize=6, ncol=2)
    else:
        empty_panel(right, "no Phase 3 benchmark results")
    fig.tight_layout()
    return save(fig, out)


def _group(rows: Sequence[Mapping], keys: tuple[str, ...]) -> dict[tuple, list[Mapping]]:
    groups: dict[tuple, list[Mapping]] = {}
    for r in rows:
        if all(k in r for k in keys):
            groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    return groups
