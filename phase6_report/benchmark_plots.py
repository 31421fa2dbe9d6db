"""The figures of the benchmarks: how fast each route and each phase ran (the performance and
training roadmaps, the matmul ladder, Phase 1's pure Python against NumPy). Each function takes a
results file's rows, and the machine they were measured on, and writes one PNG (plots.py has what
they share). Every text is at least MIN_FONT_PT points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from phase6_report.plots import FIGSIZE, MIN_FONT_PT, require_matplotlib, save

__all__ = ["matmul_ladder", "performance_roadmap", "phase1_benchmark", "training_roadmap"]

#: the size of the small texts of a figure: bar labels, legends, notes
SMALL = MIN_FONT_PT
#: a share (% of the peer) above this is off the scale: a disturbed run, not a real result. It
#: is drawn as a marker at the top edge with its value, and the axis does not stretch to it.
BAND_TOP = 200.0


# -- the roadmaps --------------------------------------------------------------------------------
def performance_roadmap(
    rows: Sequence[Mapping],
    out: str | Path,
    title: str = "",
    xlabel: str = "time of one product, milliseconds (log scale)",
    machine: str = "",
    beside: tuple[str, Sequence[Mapping]] | None = None,
) -> Path:
    """One n x n product (or one training step) by every route, on a log time axis, each bar
    labelled with its speed-up over pure Python on the same machine. rows: a roadmap's rows
    (phase6_report.roadmap or .training_roadmap: route, seconds), all from one run on one
    machine, named by `machine`. `beside`: (machine, rows) of a second run, say the committed
    H100 one, drawn as a second, hatched bar under each route's first."""
    plt = require_matplotlib()
    if not rows:
        raise ValueError("performance_roadmap: no roadmap rows")
    runs = [(machine, rows)] + ([beside] if beside and beside[1] else [])
    routes = _merged_routes([r for _, r in runs])
    fig, ax = plt.subplots(figsize=FIGSIZE)
    y = np.arange(len(routes))[::-1].astype(float)
    height = 0.8 / len(runs)
    everything = []
    for i, (_, run) in enumerate(runs):
        offset = ((len(runs) - 1) / 2 - i) * height  # the first run on top
        everything += _roadmap_bars(ax, run, routes, y + offset, height, hatched=i > 0)
    ax.set_xscale("log")
    ax.set_yticks(y, routes)
    ax.set_xlabel(xlabel)
    ax.set_xlim(min(everything) * 1e3 / 3, max(everything) * 1e3 * 30)
    if any(label for label, _ in runs):
        _machine_legend(ax, [label for label, _ in runs])
    n = rows[0].get("n")
    fastest = min(((r["seconds"], r["route"]) for _, run in runs for r in run))[1]
    # over the whole figure: over the axes alone, a long title overflows past the right edge
    fig.suptitle(title or f"A {n}x{n} matrix product, from pure Python to {fastest.split(' (')[0]}")
    fig.tight_layout()
    return save(fig, out)


def training_roadmap(
    rows: Sequence[Mapping],
    out: str | Path,
    machine: str = "",
    beside: tuple[str, Sequence[Mapping]] | None = None,
) -> Path:
    """One training step of the same network by every route (phase6_report.training_roadmap),
    on `machine`, with a second machine's run `beside` it as in performance_roadmap."""
    if not rows:
        raise ValueError("training_roadmap: no rows")
    widths = "-".join(map(str, rows[0].get("widths", ())))
    return performance_roadmap(
        rows,
        out,
        title=f"One training step ({widths}, batch {rows[0]['batch']}), from pure Python up",
        xlabel="time of one training step, milliseconds (log scale)",
        machine=machine,
        beside=beside,
    )


def _roadmap_bars(ax, rows, routes, y, height, hatched: bool) -> list[float]:
    """One run's bars, at y[i] for routes[i], each labelled with its speed-up; its times."""
    seconds = {r["route"]: float(r["seconds"]) for r in rows}
    python = [s for route, s in seconds.items() if "python" in route.lower()]
    base = python[0] if python else max(seconds.values())
    for route, yi in zip(routes, y, strict=True):
        if route not in seconds:
            continue
        s = seconds[route]
        ax.barh(yi, s * 1e3, height, color=_route_color(route), alpha=0.45 if hatched else 1.0,
                hatch="//" if hatched else None, edgecolor="#444" if hatched else "none")  # fmt: skip
        ax.text(s * 1e3 * 1.15, yi, f"{base / s:,.0f}x", va="center", fontsize=SMALL)
    return list(seconds.values())


def _machine_legend(ax, labels: list[str]) -> None:
    """Which bars are which machine's: solid the first run's, hatched the second's."""
    from matplotlib.patches import Patch

    handles = [Patch(facecolor="#888", label=labels[0] or "this run")]
    if len(labels) > 1:
        handles.append(Patch(facecolor="#ddd", hatch="//", edgecolor="#444", label=labels[1]))
    ax.legend(handles=handles, loc="lower right", fontsize=SMALL, title_fontsize=SMALL)


def _merged_routes(runs: Sequence[Sequence[Mapping]]) -> list[str]:
    """Every route of every run once, in the order the runs list them (a route only one run has
    goes after the route it follows there)."""
    order = [r["route"] for r in max(runs, key=len)]
    for rows in runs:
        before = None
        for r in rows:
            if r["route"] not in order:
                order.insert(order.index(before) + 1 if before else 0, r["route"])
            before = r["route"]
    return order


def _route_color(name: str) -> str:
    lower = name.lower()
    for key, color in (
        ("python", "#8c564b"), ("numpy", "#1f77b4"), ("c (", "#2ca02c"), ("c library", "#2ca02c"), ("c-api", "#2ca02c"),
        ("ctypes", "#2ca02c"), ("pybind", "#2ca02c"), ("cublas", "#7f7f7f"), ("cuda", "#d62728"),
    ):  # fmt: skip
        if key in lower:
            return color
    return "#9467bd"


# -- the matmul ladder ---------------------------------------------------------------------------
def matmul_ladder(
    ladder_rows: Sequence[Mapping],
    c_rows: Sequence[Mapping],
    out: str | Path,
    *,
    ladder_machine: str = "",
    c_machine: str = "",
    ladder_caveat: str = "",
    c_caveat: str = "",
) -> Path:
    """Each CUDA version as a percentage of cuBLAS at each size (Phase 4's `ladder` rows: n,
    <version>_tflops, cublas_tflops), and each C binding as a percentage of NumPy across sizes
    (Phase 3's rows: n, dtype, threads, numpy_s, c_<binding>_s); each panel titled with the
    machine it ran on. Either may be empty: the other then fills the figure, and a note says
    what is missing and which command measures it.

    The y axis stops at BAND_TOP at most: a share above it (a disturbed run) is drawn as a
    marker at the top edge with its value, and a note names it, with `*_caveat` (say,
    "unsteady run") when the run recorded one."""
    plt = require_matplotlib()
    panels = [(draw, rows, machine, caveat) for draw, rows, machine, caveat in (
        (_cuda_panel, ladder_rows, ladder_machine, ladder_caveat),
        (_c_panel, c_rows, c_machine, c_caveat),
    ) if rows]  # fmt: skip
    if not panels:
        raise ValueError("matmul_ladder: no ladder rows and no C rows")
    fig, axes = plt.subplots(1, len(panels), figsize=FIGSIZE, squeeze=False)
    notes = []
    for ax, (draw, rows, machine, caveat) in zip(axes[0], panels, strict=True):
        notes += draw(ax, rows, machine, caveat)
    if not ladder_rows:
        notes.append("Phase 4's CUDA ladder is not here: it needs an NVIDIA GPU (nox -s phase4).")
    if not c_rows:
        notes.append("Phase 3's C bindings are not here: nox -s phase3 measures them.")
    return _save_with_notes(fig, notes, out)


def _cuda_panel(ax, rows: Sequence[Mapping], machine: str, caveat: str) -> list[str]:
    """Grouped bars: each float32 CUDA version as a % of cuBLAS SGEMM, one bar per size."""
    versions = [k[: -len("_tflops")] for k in rows[0] if k.endswith("_tflops")]
    # the float32 rungs against cuBLAS SGEMM; the tensor-core rungs compute in a precision of
    # their own, compared with their own cuBLAS peer in Phase 4's table, not here
    versions = [v for v in versions if not v.startswith(("cublas", "tensor", "triton"))]
    width = 0.8 / len(rows)
    x = np.arange(len(versions))
    points = []  # (x, %, n) of every bar
    for i, row in enumerate(rows):
        pct = [100 * row[f"{v}_tflops"] / row["cublas_tflops"] for v in versions]
        xs = x + (i - (len(rows) - 1) / 2) * width
        ax.bar(xs, pct, width, label=f"n = {row['n']}")
        points += [(xi, p, row["n"]) for xi, p in zip(xs, pct, strict=True)]
    ax.set_xticks(x, versions, rotation=35, ha="right")
    ax.set_ylabel("% of cuBLAS SGEMM")
    ax.set_title(_panel_title("Phase 4: CUDA versions", machine))
    ax.legend(fontsize=SMALL, loc="upper left")
    return _keep_on_scale(ax, points, "Phase 4", caveat)


def _c_panel(ax, rows: Sequence[Mapping], machine: str, caveat: str) -> list[str]:
    """Lines: each C binding as a % of NumPy across sizes; every binding on one thread, only the
    C-API on more (dotted: the lines would overlap)."""
    styles = {"capi": "o", "pybind11": "s", "ctypes": "^"}
    points = []
    for (dtype, threads), group in sorted(_group(rows, ("dtype", "threads")).items()):
        group = sorted(group, key=lambda r: r["n"])
        for binding in styles if threads == 1 else ("capi",):
            key = f"c_{binding}_s"
            pts = [(r["n"], 100 * r["numpy_s"] / r[key]) for r in group if r.get(key)]
            if not pts:
                continue
            label = f"{binding}, {dtype}" + (f", {threads} threads" if threads > 1 else "")
            ax.plot(*zip(*pts, strict=True), "-" if threads == 1 else ":",
                    marker=styles[binding], markersize=4, label=label)  # fmt: skip
            points += [(n, p, n) for n, p in pts]
    _size_axis(ax, sorted({r["n"] for r in rows if "n" in r}))
    ax.set_xlabel("n (n x n product)")
    ax.set_ylabel("% of NumPy / OpenBLAS")
    ax.set_title(_panel_title("Phase 3: C bindings", machine))
    notes = _keep_on_scale(ax, points, "Phase 3", caveat)
    # under the panel: over it, the legend would hide the lines that run low
    ax.legend(fontsize=SMALL, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    return notes


def _size_axis(ax, sizes: list[int]) -> None:
    """A log x axis ticked at the sizes measured, written plainly (500, not 5 x 10^2)."""
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.xaxis.set_minor_locator(require_matplotlib().NullLocator())


def _panel_title(what: str, machine: str) -> str:
    return f"{what}\n{machine}" if machine else what


def _keep_on_scale(ax, points: list[tuple], panel: str, caveat: str) -> list[str]:
    """Set the y axis from 0 to just above the points within BAND_TOP (at least 110%, so that
    the 100% line shows); draw each point above that at the top edge, with its value; return the
    note that names them (none when every point is on the scale)."""
    inside = [p for _, p, _ in points if p <= BAND_TOP]
    top = max(110.0, 1.12 * max(inside, default=100.0))
    ax.set_ylim(0, top)
    ax.axhline(100, color="gray", linestyle="--", linewidth=1)
    off = [(x, p, n) for x, p, n in points if p > top]
    for x, p, _ in off:
        ax.plot([x], [top], marker="^", color="#d62728", markersize=9, clip_on=False, zorder=5)
        ax.annotate(f"{p:,.0f}%", (x, top), xytext=(7, -4), textcoords="offset points",
                    ha="left", va="top", fontsize=SMALL, color="#d62728")  # fmt: skip
    if not off:
        return []
    shown = ", ".join(f"{p:,.0f}% at n = {n}" for _, p, n in off[:2])
    more = f" and {len(off) - 2} more" if len(off) > 2 else ""
    why = f", {caveat}" if caveat else ""
    s = "s" if len(off) > 1 else ""
    return [f"{panel}: {len(off)} point{s} off the scale ({shown}{more}{why})."]


def _save_with_notes(fig, notes: list[str], out: str | Path) -> Path:
    """Write the notes under the panels, one a line, and save."""
    line = SMALL * 1.6 / (fig.get_figheight() * 72)  # one line's height, as a share of the figure
    for i, note in enumerate(notes):
        fig.text(0.01, 0.012 + (len(notes) - 1 - i) * line, note, fontsize=SMALL, color="#444")
    fig.tight_layout(rect=(0, len(notes) * line + 0.005 * bool(notes), 1, 1))
    return save(fig, out)


def _group(rows: Sequence[Mapping], keys: tuple[str, ...]) -> dict[tuple, list[Mapping]]:
    groups: dict[tuple, list[Mapping]] = {}
    for r in rows:
        if all(k in r for k in keys):
            groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    return groups


# -- Phase 1 -------------------------------------------------------------------------------------
#: Phase 1's three products: the row key of each one's seconds, and its name in the figure
PHASE1_ROUTES = (
    ("naive_s", "i-j-k loop (matmul_naive)", "#c49c94"),
    ("pure_s", "pure Python (Matrix @)", "#8c564b"),
    ("numpy_s", "NumPy / OpenBLAS", "#1f77b4"),
)


def phase1_benchmark(
    rows: Sequence[Mapping], out: str | Path, machine: str = "", caveat: str = ""
) -> Path:
    """Phase 1's benchmark (phase1_python.benchmark: n, naive_s, pure_s, numpy_s): left, the time
    of each product against n on log-log axes; right, how many times faster pure Python is than
    the i-j-k loop, and NumPy than pure Python, at each n. caveat: what the run recorded against
    its numbers (say, "busy machine"), written under the panels."""
    plt = require_matplotlib()
    rows = sorted((r for r in rows if "n" in r and r.get("pure_s")), key=lambda r: r["n"])
    if not rows:
        raise ValueError("phase1_benchmark: no rows with a pure-Python time")
    fig, (left, right) = plt.subplots(1, 2, figsize=FIGSIZE)
    sizes = [r["n"] for r in rows]
    for key, label, color in PHASE1_ROUTES:
        pts = [(r["n"], r[key] * 1e3) for r in rows if r.get(key)]
        if pts:
            left.plot(*zip(*pts, strict=True), "-o", color=color, markersize=4, label=label)
    _size_axis(left, sizes)
    left.set_yscale("log")
    left.set_xlabel("n (n x n product, float64)")
    left.set_ylabel("milliseconds (log scale)")
    left.set_title("Time of one product")
    left.legend(fontsize=SMALL)
    _phase1_speedups(right, rows)
    fig.suptitle(_panel_title("Phase 1: pure Python against NumPy", machine).replace("\n", ", "))
    notes = (
        [f"The run warned of a {caveat}: rerun on a quiet machine to trust it."] if caveat else []
    )
    return _save_with_notes(fig, notes, out)


def _phase1_speedups(ax, rows: Sequence[Mapping]) -> None:
    """Grouped bars, log scale: pure Python over the i-j-k loop, NumPy over pure Python."""
    pairs = (("naive_s", "pure_s", "pure Python over the i-j-k loop", "#8c564b"),
             ("pure_s", "numpy_s", "NumPy over pure Python", "#1f77b4"))  # fmt: skip
    x = np.arange(len(rows))
    for i, (slow, fast, label, color) in enumerate(pairs):
        xs = x + (i - 0.5) * 0.4
        ratios = [r[slow] / r[fast] if r.get(slow) and r.get(fast) else np.nan for r in rows]
        ax.bar(xs, ratios, 0.4, color=color, label=label)
        for xi, ratio in zip(xs, ratios, strict=True):
            if np.isfinite(ratio):
                ax.text(xi, ratio * 1.1, f"{ratio:,.0f}x", ha="center", fontsize=SMALL)
    ax.set_yscale("log")
    top = np.nanmax([r["pure_s"] / r["numpy_s"] for r in rows if r.get("numpy_s")] or [10])
    ax.set_ylim(1, top * 8)
    ax.set_xticks(x, [str(r["n"]) for r in rows])
    ax.set_xlabel("n")
    ax.set_ylabel("times faster (log scale)")
    ax.set_title("Speed-ups")
    ax.legend(fontsize=SMALL, loc="upper left")
