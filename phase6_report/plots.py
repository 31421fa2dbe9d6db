"""The figures, each a function from the project's own results to one PNG file.

Every function takes plain data (rows of a benchmark file, a training metrics dict, arrays), draws
one figure with matplotlib's Agg backend (no screen needed), writes it to `out` and returns the
path. Figures have a fixed size (FIGSIZE at DPI) so that the tests can check what they get.
matplotlib is the optional `plot` extra: without it, each function raises MissingPlotting with
the command that installs it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from shared.files import atomic_write_bytes

__all__ = [
    "DPI",
    "FIGSIZE",
    "MissingPlotting",
    "confusion_matrix",
    "first_layer",
    "matmul_ladder",
    "misclassified",
    "performance_roadmap",
    "require_matplotlib",
    "training_curves",
    "training_roadmap",
    "xor_boundary",
]

DPI = 100
FIGSIZE = (9.0, 5.5)  # inches: 900 x 550 pixels
SQUARE = (7.0, 7.0)  # 700 x 700: the confusion matrix and the image grids


class MissingPlotting(ImportError):
    """matplotlib, the `plot` extra, is not installed."""


def require_matplotlib():
    """pyplot on the Agg backend, or MissingPlotting saying how to install it."""
    try:
        import matplotlib
    except ImportError as e:
        raise MissingPlotting(
            "the plots need matplotlib, the project's `plot` extra: "
            "pip install 'nn-foundations[plot]' (or: pip install matplotlib)"
        ) from e
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out: str | Path) -> Path:
    """Write the figure as PNG atomically (a reader never sees half an image) and close it."""
    import io

    out = Path(out)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    fig.clf()
    require_matplotlib().close(fig)
    atomic_write_bytes(out, buffer.getvalue())
    return out


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
    return _save(fig, out)


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
        _empty(left, "no Phase 4 ladder results (needs a GPU)")
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
        _empty(right, "no Phase 3 benchmark results")
    fig.tight_layout()
    return _save(fig, out)


def _group(rows: Sequence[Mapping], keys: tuple[str, ...]) -> dict[tuple, list[Mapping]]:
    groups: dict[tuple, list[Mapping]] = {}
    for r in rows:
        if all(k in r for k in keys):
            groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    return groups


def _empty(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, fontsize=10)
    ax.set_axis_off()


def training_curves(runs: Mapping[str, Mapping], out: str | Path) -> Path:
    """Loss and accuracy per epoch (train, test, and validation when there was one) for one or
    several training runs overlaid. runs: label -> a metrics dict (schema
    nn-foundations/training/1)."""
    plt = require_matplotlib()
    if not runs:
        raise ValueError("training_curves: no runs")
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=FIGSIZE)
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, metrics) in enumerate(runs.items()):
        history = metrics["history"]
        epochs = [h["epoch"] for h in history]
        color = cycle[i % len(cycle)]
        for split, style in (("train", "-"), ("test", "--"), ("val", ":")):
            if f"{split}_loss" not in history[0]:
                continue
            loss_ax.plot(epochs, [h[f"{split}_loss"] for h in history], style, color=color,
                         label=f"{label}, {split}")  # fmt: skip
            acc_ax.plot(epochs, [100 * h[f"{split}_accuracy"] for h in history], style,
                        color=color, label=f"{label}, {split}")  # fmt: skip
    loss_ax.set_yscale("log")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("cross-entropy loss (log scale)")
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("accuracy, %")
    acc_ax.legend(fontsize=7)
    loss_ax.set_title("loss")
    acc_ax.set_title("accuracy")
    fig.tight_layout()
    return _save(fig, out)


def confusion_matrix(metrics: Mapping, out: str | Path, title: str = "") -> Path:
    """The test set's confusion matrix as a heat map with the counts written in (rows: true
    class, columns: predicted)."""
    plt = require_matplotlib()
    counts = np.asarray(metrics["test"]["confusion"], dtype=np.int64)
    classes = list(metrics.get("classes") or range(len(counts)))
    fig, ax = plt.subplots(figsize=SQUARE)
    # log scale of counts, so that the few confusions stand out beside the large diagonal
    ax.imshow(np.log1p(counts), cmap="Blues")
    top = np.log1p(counts.max())
    for i, j in np.ndindex(counts.shape):
        if counts[i, j]:
            dark = np.log1p(counts[i, j]) > 0.6 * top
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if dark else "black")  # fmt: skip
    ticks = range(len(classes))
    ax.set_xticks(ticks, [str(c) for c in classes], rotation=45 if len(str(classes[0])) > 2 else 0)
    ax.set_yticks(ticks, [str(c) for c in classes])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = metrics["test"]["accuracy"]
    ax.set_title(title or f"{metrics.get('dataset', '')} test set: {accuracy:.2%} correct")
    fig.tight_layout()
    return _save(fig, out)


def first_layer(W: np.ndarray, out: str | Path, units: int = 64) -> Path:
    """The first layer's weights, one 28x28 image per hidden unit (the first `units` of them):
    what each unit looks for in the input. W: (784, hidden)."""
    plt = require_matplotlib()
    W = np.asarray(W, dtype=np.float64)
    side = math.isqrt(W.shape[0])
    if side * side != W.shape[0]:
        raise ValueError(f"first_layer: {W.shape[0]} inputs are not a square image")
    units = min(units, W.shape[1])
    cols = math.ceil(math.sqrt(units))
    rows = math.ceil(units / cols)
    fig, axes = plt.subplots(rows, cols, figsize=SQUARE)
    for k, ax in enumerate(np.ravel(axes)):
        ax.set_axis_off()
        if k < units:
            w = W[:, k].reshape(side, side)
            limit = np.abs(w).max() or 1.0
            ax.imshow(w, cmap="RdBu_r", vmin=-limit, vmax=limit)
    fig.suptitle(f"first layer: {units} of {W.shape[1]} units (red +, blue -)")
    return _save(fig, out)


def misclassified(
    images: np.ndarray,
    true: np.ndarray,
    predicted: np.ndarray,
    confidence: np.ndarray,
    out: str | Path,
    classes: Sequence[str] | None = None,
    limit: int = 24,
) -> Path:
    """A gallery of misclassified test images: true label, predicted label and the network's
    confidence in its (wrong) answer, the most confident mistakes first."""
    plt = require_matplotlib()
    wrong = np.flatnonzero(np.asarray(true) != np.asarray(predicted))
    wrong = wrong[np.argsort(-np.asarray(confidence)[wrong], kind="stable")][:limit]
    names = list(classes) if classes else [str(c) for c in range(int(max(true.max(), 9)) + 1)]
    cols = 6
    rows = max(1, math.ceil(len(wrong) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=SQUARE, squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, i in zip(axes.ravel(), wrong, strict=False):
        ax.imshow(np.asarray(images[i]).reshape(28, 28), cmap="gray_r")
        ax.set_title(
            f"{names[true[i]]}\n-> {names[predicted[i]]} ({confidence[i]:.0%})", fontsize=7
        )
    fig.suptitle(
        f"{len(wrong)} of {np.count_nonzero(np.asarray(true) != np.asarray(predicted))} "
        "misclassified test images (true -> predicted, confidence)"
        if len(wrong)
        else "no misclassified images"
    )
    fig.tight_layout()
    return _save(fig, out)


def xor_boundary(
    predict: Callable[[np.ndarray], np.ndarray], out: str | Path, points: int = 101
) -> Path:
    """Phase 1's XOR network: its output over the square [-0.25, 1.25]^2, the 0.5 contour (the
    decision boundary) and the four training points. predict: (k, 2) -> (k,) probabilities."""
    plt = require_matplotlib()
    axis = np.linspace(-0.25, 1.25, points)
    xx, yy = np.meshgrid(axis, axis)
    zz = np.asarray(predict(np.column_stack([xx.ravel(), yy.ravel()])), dtype=float)
    zz = zz.reshape(xx.shape)
    fig, ax = plt.subplots(figsize=SQUARE)
    image = ax.contourf(xx, yy, zz, levels=20, cmap="RdBu_r", vmin=0, vmax=1)
    ax.contour(xx, yy, zz, levels=[0.5], colors="black", linewidths=2)
    for (a, b), t in zip([(0, 0), (0, 1), (1, 0), (1, 1)], [0, 1, 1, 0], strict=True):
        ax.scatter(a, b, s=200, c="white" if t == 0 else "black", edgecolors="black", zorder=3)
    fig.colorbar(image, ax=ax, label="network output")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title("Phase 1: XOR, the decision boundary of a 2-4-1 network")
    fig.tight_layout()
    return _save(fig, out)
