"""The figures of training: what a run learned (its curves, its confusion matrix, its first
layer, its mistakes) and Phase 1's XOR boundary. Each function takes a metrics dict or arrays
and writes one PNG (plots.py has what they share)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from phase6_report.plots import FIGSIZE, SQUARE, require_matplotlib, save

__all__ = ["confusion_matrix", "first_layer", "misclassified", "training_curves", "xor_boundary"]


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
    return save(fig, out)


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
    return save(fig, out)


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
    return save(fig, out)


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
    return save(fig, out)


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
    return save(fig, out)
