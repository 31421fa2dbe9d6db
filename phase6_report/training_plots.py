"""The figures of training: what a run learned (its curves, its confusion matrix and its most
frequent mistakes, its first layer, its most confident mistakes) and Phase 1's XOR boundary.
Each function takes a metrics dict or arrays and writes one PNG (plots.py has what they share).
Every text is at least MIN_FONT_PT: the report page shows each image at its own size."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from phase6_report.plots import FIGSIZE, SQUARE, empty_panel, require_matplotlib, save

__all__ = [
    "agreeing_runs",
    "coinciding_runs",
    "confusion_difference",
    "confusion_matrix",
    "first_layer",
    "misclassified",
    "most_confused",
    "percent",
    "top_confusions",
    "training_curves",
    "xor_boundary",
]

FONT = 10  # points: the text of every figure, above MIN_FONT_PT (9)
SPLITS = (("train", "-", "train"), ("test", "--", "test"), ("val", ":", "validation"))
#: runs that coincide are told apart by their markers: hollow and large under small and solid
RUN_MARKERS = (("o", 9, "none"), ("x", 7, None), ("s", 7, "none"), ("+", 9, None), ("^", 7, "none"))


# -- training curves --------------------------------------------------------------------------
def coinciding_runs(runs: Mapping[str, Mapping], tolerance: float = 1e-3) -> list[str]:
    """Notes on the pairs of runs whose curves agree within `tolerance` at every epoch (losses,
    and accuracies as fractions), e.g. "mnist, cpu and mnist, gpu coincide (max difference
    2e-4)": drawn on one figure, one would hide the other."""
    notes = []
    for (a, ma), (b, mb) in itertools.combinations(runs.items(), 2):
        ha, hb = ma["history"], mb["history"]
        if [h["epoch"] for h in ha] != [h["epoch"] for h in hb]:
            continue
        keys = [k for k in ha[0] if k.endswith(("_loss", "_accuracy")) and k in hb[0]]
        if not keys:
            continue
        gap = max(abs(x[k] - y[k]) for x, y in zip(ha, hb, strict=True) for k in keys)
        if gap <= tolerance:
            notes.append(f"{a} and {b} coincide (max difference {_short(gap)})")
    return notes


def _short(x: float) -> str:
    """0 -> '0', 0.0002 -> '2e-4'."""
    if x == 0:
        return "0"
    mantissa, exponent = f"{x:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _one_two_five(value: float, _position=None) -> str:
    """A log axis's tick label: 0.05, 0.1, 0.2, 0.5, 1, 2 ... in plain numbers, the others
    (0.03, 0.04 ...) unlabelled."""
    if value <= 0:
        return ""
    leading = value / 10 ** math.floor(math.log10(value) + 1e-9)
    return f"{value:g}" if min(abs(leading - d) for d in (1, 2, 5)) < 1e-6 else ""


def training_curves(runs: Mapping[str, Mapping], out: str | Path) -> Path:
    """Loss and accuracy per epoch (train, test, and validation when there was one) for one or
    several training runs overlaid. runs: label -> a metrics dict (schema
    nn-foundations/training/1). Colour and marker tell the runs apart (so that two runs that
    coincide both show), the line style the data; a note names the runs that coincide."""
    plt = require_matplotlib()
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    if not runs:
        raise ValueError("training_curves: no runs")
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=FIGSIZE)
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    run_handles, splits_drawn = [], []
    for i, (label, metrics) in enumerate(runs.items()):
        history = metrics["history"]
        epochs = [h["epoch"] for h in history]
        marker, size, face = RUN_MARKERS[i % len(RUN_MARKERS)]
        step = max(1, math.ceil(len(epochs) / 12))  # at most about 12 markers a curve
        look = dict(color=cycle[i % len(cycle)], marker=marker, markersize=size,
                    markerfacecolor=face, linewidth=max(1.0, 3.0 - i),
                    markevery=(i % step, step))  # fmt: skip
        for split, style, name in SPLITS:
            if f"{split}_loss" not in history[0]:
                continue
            loss_ax.plot(epochs, [h[f"{split}_loss"] for h in history], linestyle=style, **look)
            acc_ax.plot(epochs, [100 * h[f"{split}_accuracy"] for h in history],
                        linestyle=style, **look)  # fmt: skip
            if name not in splits_drawn:
                splits_drawn.append(name)
        run_handles.append(Line2D([], [], label=label, **(look | {"markevery": None})))
    style_of = {name: style for _, style, name in SPLITS}
    split_handles = [Line2D([], [], color="0.3", linestyle=style_of[n], label=n)
                     for n in splits_drawn]  # fmt: skip
    loss_ax.set_yscale("log")
    loss_ax.yaxis.set_major_formatter(FuncFormatter(_one_two_five))
    loss_ax.yaxis.set_minor_formatter(FuncFormatter(_one_two_five))
    for ax, name in ((loss_ax, "loss"), (acc_ax, "accuracy")):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs
        ax.set_title(name, fontsize=12)
        ax.set_xlabel("epoch", fontsize=FONT)
        ax.tick_params(which="both", labelsize=FONT)
    loss_ax.set_ylabel("cross-entropy loss (log scale)", fontsize=FONT)
    acc_ax.set_ylabel("accuracy, %", fontsize=FONT)
    notes = coinciding_runs(runs)
    _legends_below(fig, run_handles, split_handles, notes)
    return save(fig, out)


def _legends_below(fig, run_handles, split_handles, notes: list[str]) -> None:
    """Below the axes, where they hide no curve: the runs (colour, marker), the data (line
    style), then the notes."""
    height = fig.get_figheight()
    run_rows = math.ceil(len(run_handles) / 3)
    inches = 0.55 + 0.28 * (run_rows + 1) + 0.22 * len(notes)  # x label, legends, notes
    fig.subplots_adjust(left=0.09, right=0.98, top=0.93, bottom=inches / height, wspace=0.25)
    y = (0.05 + 0.22 * len(notes)) / height
    common = dict(loc="lower center", frameon=False, fontsize=FONT, handlelength=3)
    fig.legend(handles=split_handles, ncol=len(split_handles), bbox_to_anchor=(0.5, y), **common)
    fig.legend(handles=run_handles, ncol=min(3, len(run_handles)),
               bbox_to_anchor=(0.5, y + 0.26 / height), **common)  # fmt: skip
    if notes:
        fig.text(0.5, 0.04 / height, "\n".join(notes), ha="center", va="bottom", fontsize=FONT)


# -- confusion matrix and the most frequent mistakes ------------------------------------------
def most_confused(counts, k: int = 5) -> list[tuple[int, int, int]]:
    """The k most frequent mistakes of a confusion matrix (rows: true class, columns:
    predicted) as (true, predicted, count), largest first (ties: in row order); only counts
    above zero, off the diagonal."""
    counts = np.asarray(counts, dtype=np.int64)
    off = counts * (1 - np.eye(len(counts), dtype=np.int64))
    order = np.argsort(-off, axis=None, kind="stable")[:k]
    pairs = [(int(i), int(j)) for i, j in zip(*np.unravel_index(order, off.shape), strict=True)]
    return [(i, j, int(off[i, j])) for i, j in pairs if off[i, j] > 0]


def confusion_difference(a, b) -> tuple[int, int]:
    """How far two confusion matrices are apart: (the number of cells that differ, the number
    of test images that landed in another cell, at least: half the sum of |a - b|)."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if a.shape != b.shape:
        raise ValueError(f"confusion matrices of shapes {a.shape} and {b.shape}")
    return int(np.count_nonzero(a != b)), int(np.abs(a - b).sum() // 2)


def agreeing_runs(runs: Mapping[str, Mapping], share: float = 0.005) -> list[list[str]]:
    """The runs in groups whose test confusion matrices agree: same data set and at most
    `share` of the test images in another cell (0.5%: a CPU and a GPU run of one seed differ by
    about 0.2%, from float32 sums taken in other orders). One
    figure can stand for each group; each group starts with the run it is drawn from."""
    groups: list[list[str]] = []
    for label, metrics in runs.items():
        counts = np.asarray(metrics["test"]["confusion"])
        for group in groups:
            first = runs[group[0]]
            reference = np.asarray(first["test"]["confusion"])
            if first.get("dataset") != metrics.get("dataset") or reference.shape != counts.shape:
                continue
            if confusion_difference(reference, counts)[1] <= share * reference.sum():
                group.append(label)
                break
        else:
            groups.append([label])
    return groups


def _mistake_list(top, names) -> str:
    """'4 -> 9: 23   7 -> 2: 18   ...' on lines of about 70 characters."""
    entries = [f"{names[i]} -> {names[j]}: {n}" for i, j, n in top]
    lines = [""]
    for entry in entries:
        if lines[-1] and len(lines[-1]) + len(entry) > 70:
            lines.append("")
        lines[-1] += ("      " if lines[-1] else "") + entry
    return "\n".join(lines)


def confusion_matrix(metrics: Mapping, out: str | Path, title: str = "") -> Path:
    """The test set's confusion matrix with the counts written in (rows: true class, columns:
    predicted). Colour shows the mistakes only, on a linear scale from 0 to the largest one, so
    that they stand out; the diagonal, the right answers, is grey. The five most frequent
    mistakes are outlined and listed below."""
    plt = require_matplotlib()
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import MaxNLocator

    counts = np.asarray(metrics["test"]["confusion"], dtype=np.int64)
    names = [str(c) for c in (metrics.get("classes") or range(len(counts)))]
    diagonal = np.eye(len(counts), dtype=bool)
    mistakes = np.ma.masked_array(counts, mask=diagonal)
    largest = max(1, int(mistakes.max() or 0))
    top = most_confused(counts, 5)
    listed = _mistake_list(top, names) if top else "none: every test image is right"
    note = f"Most frequent mistakes, outlined (true -> predicted: count):\n{listed}"
    lines = note.count("\n") + 1
    fig = plt.figure(figsize=SQUARE, layout="constrained")
    ax, note_ax = fig.subplots(2, 1, height_ratios=[SQUARE[1] - 0.2 * lines, 0.2 * lines])
    note_ax.set_axis_off()
    note_ax.text(0, 1, note, ha="left", va="top", fontsize=FONT, transform=note_ax.transAxes)
    image = ax.imshow(mistakes, cmap=plt.get_cmap("Reds").with_extremes(bad="0.85"),
                      vmin=0, vmax=largest)  # fmt: skip
    for i, j in np.ndindex(counts.shape):
        if counts[i, j]:
            dark = not diagonal[i, j] and counts[i, j] > 0.6 * largest
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=FONT,
                    color="white" if dark else "black")  # fmt: skip
    for i, j, _ in top:
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="black", lw=1.5))
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.locator = MaxNLocator(integer=True)
    bar.update_ticks()
    bar.set_label("mistakes: test images in the cell (grey diagonal: right answers)",
                  fontsize=FONT)  # fmt: skip
    bar.ax.tick_params(labelsize=FONT)
    ticks = range(len(names))
    slanted = max(map(len, names)) > 2  # long class names, tilted so that they do not collide
    ax.set_xticks(ticks, names, rotation=45 if slanted else 0, ha="right" if slanted else "center",
                  fontsize=FONT)  # fmt: skip
    ax.set_yticks(ticks, names, fontsize=FONT)
    ax.set_xlabel("predicted class", fontsize=FONT)
    ax.set_ylabel("true class", fontsize=FONT)
    accuracy = metrics["test"]["accuracy"]
    ax.set_title(title or f"{metrics.get('dataset', '')} test set: {accuracy:.2%} correct",
                 fontsize=12)  # fmt: skip
    return save(fig, out)


def _image(x) -> np.ndarray:
    """One flattened or square image as a square array."""
    x = np.asarray(x)
    side = math.isqrt(x.size)
    return x.reshape(side, side)


def top_confusions(
    images: np.ndarray,
    true: np.ndarray,
    predicted: np.ndarray,
    out: str | Path,
    classes: Sequence[str] | None = None,
    k: int = 5,
    per_pair: int = 10,
) -> Path:
    """The k most frequent mistakes (true class -> predicted class), one row of test images
    each (the first `per_pair` of the test set), labelled "true 4 -> predicted 9: 23 times"."""
    plt = require_matplotlib()
    true, predicted = np.asarray(true), np.asarray(predicted)
    size = int(max(true.max(), predicted.max(), 9)) + 1
    names = [str(c) for c in (classes if classes is not None else range(size))]
    counts = np.zeros((size, size), dtype=np.int64)
    np.add.at(counts, (true, predicted), 1)
    top = most_confused(counts, k)
    fig = plt.figure(figsize=FIGSIZE)
    if not top:
        empty_panel(fig.add_subplot(), "no misclassified images")
        return save(fig, out)
    heading, *rows = fig.subfigures(len(top) + 1, 1, height_ratios=[0.4] + [1] * len(top))
    heading.suptitle(f"The {len(top)} most frequent mistakes, with test images of each",
                     fontsize=12, va="center", y=0.5)  # fmt: skip
    for row, (i, j, n) in zip(rows, top, strict=True):
        row.suptitle(f"true {names[i]} -> predicted {names[j]}: {n} times", x=0.02, ha="left",
                     fontsize=FONT)  # fmt: skip
        axes = row.subplots(1, per_pair)
        for ax in np.atleast_1d(axes):
            ax.set_axis_off()
        examples = np.flatnonzero((true == i) & (predicted == j))[:per_pair]
        for ax, e in zip(np.atleast_1d(axes), examples, strict=False):
            ax.imshow(_image(images[e]), cmap="gray_r")
        row.subplots_adjust(left=0.02, right=0.98, top=0.78, bottom=0.02, wspace=0.08)
    return save(fig, out)


# -- first layer ------------------------------------------------------------------------------
def _learned(W: np.ndarray, W_init: np.ndarray) -> np.ndarray:
    """What training added to each unit's weights: W less the part of it that is still its
    starting noise. Weight decay shrinks the start (each step multiplies it by 1 - lr * decay),
    so W - W_init would still hold a fraction of the noise; each column's share a of its start
    (a = <w, w_init> / <w_init, w_init>, least squares) is taken out instead."""
    share = np.einsum("ij,ij->j", W, W_init) / np.maximum(
        np.einsum("ij,ij->j", W_init, W_init), 1e-30
    )
    return W - share * W_init


def first_layer(
    W: np.ndarray,
    out: str | Path,
    W1: np.ndarray | None = None,
    W_init: np.ndarray | None = None,
    units: int = 36,
) -> Path:
    """The first layer's weights, one 28x28 image per hidden unit: where each unit looks in the
    input. W: (784, hidden). With W_init (the weights training started from), each square is
    what training added (`_learned`): the random start, as large as the change or larger, would
    hide it. The units shown are those the next layer listens to most (the largest norm of
    their outgoing weights, row k of W1: (hidden, next)); without W1, those that changed most.
    Each square has its own colour scale, set by its 99th percentile of |w| (a few extreme
    weights do not wash out the rest)."""
    plt = require_matplotlib()
    W = np.asarray(W, dtype=np.float64)
    side = math.isqrt(W.shape[0])
    if side * side != W.shape[0]:
        raise ValueError(f"first_layer: {W.shape[0]} inputs are not a square image")
    changed = W_init is not None and not np.array_equal(W, W_init)
    shown = _learned(W, np.asarray(W_init, dtype=np.float64)) if changed else W
    if W1 is not None:
        score, ranked_by = np.linalg.norm(W1, axis=1), "largest outgoing weights"
    else:
        score, ranked_by = np.linalg.norm(shown - shown.mean(axis=0), axis=0), "largest weights"
        if changed:
            ranked_by = "largest change"
    units = min(units, W.shape[1])
    chosen = np.argsort(-score, kind="stable")[:units]
    cols = math.ceil(math.sqrt(units))
    rows = math.ceil(units / cols)
    fig, axes = plt.subplots(rows, cols, figsize=SQUARE, squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, k in zip(axes.ravel(), chosen, strict=False):
        w = shown[:, k].reshape(side, side)
        limit = np.percentile(np.abs(w), 99) or 1.0
        ax.imshow(w, cmap="RdBu_r", vmin=-limit, vmax=limit)
    what = "what training added to its input weights" if changed else "its input weights"
    fig.suptitle(f"First layer: the {units} of {W.shape[1]} hidden units with the {ranked_by}",
                 fontsize=12)  # fmt: skip
    fig.text(0.5, 0.925, f"Each square is one unit: {what}, as a {side}x{side} image\n"
             "(red: ink there excites the unit, blue: ink there inhibits it).",
             ha="center", va="top", fontsize=FONT)  # fmt: skip
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.85, wspace=0.08, hspace=0.08)
    return save(fig, out)


# -- misclassified ----------------------------------------------------------------------------
def percent(p: float) -> str:
    """A probability as a percentage with enough decimals not to read 100% unless it is 1:
    0.87 -> '87%', 0.9997 -> '99.97%', 0.999991 -> '99.999%'."""
    if p < 0.995:
        return f"{p:.0%}"
    for decimals in range(2, 5):
        text = f"{100 * p:.{decimals}f}%"
        if not text.startswith("100"):
            return text
    return "100%" if p >= 1 else "> 99.9999%"


def misclassified(
    images: np.ndarray,
    true: np.ndarray,
    predicted: np.ndarray,
    confidence: np.ndarray,
    out: str | Path,
    classes: Sequence[str] | None = None,
    limit: int = 16,
) -> Path:
    """A gallery of misclassified test images: true label, predicted label and the network's
    confidence in its (wrong) answer, the most confident mistakes first."""
    plt = require_matplotlib()
    true, predicted, confidence = np.asarray(true), np.asarray(predicted), np.asarray(confidence)
    wrong = np.flatnonzero(true != predicted)
    shown = wrong[np.argsort(-confidence[wrong], kind="stable")][:limit]
    size = int(max(true.max(), predicted.max(), 9)) + 1
    names = [str(c) for c in (classes if classes is not None else range(size))]
    cols = max(1, math.ceil(math.sqrt(limit)))
    rows = max(1, math.ceil(len(shown) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=SQUARE, squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, i in zip(axes.ravel(), shown, strict=False):
        ax.imshow(_image(images[i]), cmap="gray_r")
        ax.set_title(f"{names[true[i]]} -> {names[predicted[i]]}\n{percent(confidence[i])}",
                     fontsize=FONT)  # fmt: skip
    fig.suptitle(
        f"The {len(shown)} most confident of {len(wrong)} mistakes\n"
        "(true -> predicted, the network's confidence in its answer)"
        if len(shown)
        else "no misclassified images",
        fontsize=12,
    )
    fig.tight_layout()
    return save(fig, out)


# -- XOR --------------------------------------------------------------------------------------
def xor_boundary(
    predict: Callable[[np.ndarray], np.ndarray], out: str | Path, points: int = 101
) -> Path:
    """Phase 1's XOR network: its output over the square [-0.25, 1.25]^2, the 0.5 contour (the
    decision boundary) and the four training points. predict: (k, 2) -> (k,) probabilities."""
    plt = require_matplotlib()
    from matplotlib.lines import Line2D

    axis = np.linspace(-0.25, 1.25, points)
    xx, yy = np.meshgrid(axis, axis)
    zz = np.asarray(predict(np.column_stack([xx.ravel(), yy.ravel()])), dtype=float)
    zz = zz.reshape(xx.shape)
    fig, ax = plt.subplots(figsize=SQUARE, layout="constrained")
    image = ax.contourf(xx, yy, zz, levels=np.linspace(0, 1, 21), cmap="RdBu_r")
    ax.contour(xx, yy, zz, levels=[0.5], colors="black", linewidths=2)
    for t, colour in ((0, "white"), (1, "black")):
        corners = [(a, b) for a, b in itertools.product((0, 1), repeat=2) if (a ^ b) == t]
        ax.scatter(*zip(*corners, strict=True), s=200, c=colour, edgecolors="black", zorder=3,
                   label=f"target {t} ({colour})")  # fmt: skip
    boundary = Line2D([], [], color="black", linewidth=2, label="decision boundary (output 0.5)")
    handles = [*ax.get_legend_handles_labels()[0], boundary]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=FONT, frameon=False)
    bar = fig.colorbar(image, ax=ax, ticks=np.linspace(0, 1, 6), shrink=0.8)
    bar.set_label("network output: its probability of class 1", fontsize=FONT)
    bar.ax.tick_params(labelsize=FONT)
    ax.set_xlabel("x1", fontsize=FONT)
    ax.set_ylabel("x2", fontsize=FONT)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=FONT)
    ax.set_title("Phase 1: XOR, the decision boundary of a 2-4-1 network", fontsize=12)
    return save(fig, out)
