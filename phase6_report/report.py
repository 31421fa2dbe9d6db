"""The report: every figure the results allow, as PNGs plus one self-contained HTML page.

    python -m phase6_report [--results DIR ...] [--out DIR] [--data-dir DIR]

The page embeds each image (base64 data URIs: it opens offline, from anywhere) and links the PNG
beside it. It says what each figure was drawn from, and lists what is missing and which command
would produce it, so a report after `nox -s mnist` alone still renders, with the training
figures and whatever benchmarks exist.
"""

from __future__ import annotations

import base64
import html
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from phase6_report import benchmark_plots, training_plots
from phase6_report.results import Gathered, first_with, gather
from shared.files import atomic_write_text

__all__ = ["Figure", "build", "model_predictions", "training_figures", "xor_predictor"]


@dataclass
class Figure:
    path: Path
    title: str
    caption: str
    source: str  # the results file(s) it was drawn from


def model_predictions(model: Path, data_dir: str | Path | None = None) -> dict:
    """Test-set predictions of a saved model (Phase 5's model.npz), in float64 NumPy: the inputs
    prepared exactly as for training (phase2_numpy.data.prepare_data)."""
    from phase2_numpy.data import prepare_data
    from phase2_numpy.network import reference_forward, softmax
    from phase5_training.checkpoint import load_checkpoint
    from shared.datasets import load_dataset

    params, config, _ = load_checkpoint(model)
    dataset = load_dataset(
        config.dataset, data_dir, download_missing=False
    )  # a report: no fetching
    x = prepare_data(dataset, config)["x_test"]
    p = softmax(reference_forward(params.W, params.b, x)[-1])
    return {
        "images": dataset.x_test,
        "true": dataset.y_test.astype(np.int64),
        "predicted": p.argmax(axis=1),
        "confidence": p.max(axis=1),
        "classes": list(dataset.classes),
        "W0": params.W[0],
    }


def training_figures(
    runs: dict[str, tuple[Path, dict]],
    model: Path | None,
    out: Path,
    data_dir: str | Path | None = None,
    missing: list[str] | None = None,
) -> list[Figure]:
    """Curves of every run, each run's confusion matrix, and for `model` its first layer and its
    misclassified test images. Used by the report and by `python -m phase6_report --run RUN`."""
    figures = []
    if runs:
        names = ", ".join(runs)
        figures.append(Figure(
            training_plots.training_curves({k: m for k, (_, m) in runs.items()}, out / "training-curves.png"),
            "Training curves", f"Loss and accuracy per epoch: {names}.",
            ", ".join(str(p) for p, _ in runs.values()),
        ))  # fmt: skip
    for i, (label, (path, metrics)) in enumerate(runs.items()):
        figures.append(Figure(
            training_plots.confusion_matrix(metrics, out / f"confusion-{i + 1}.png"),
            f"Confusion matrix: {label}",
            "Rows: the true class; columns: the predicted one; colour on a log scale of counts.",
            str(path),
        ))  # fmt: skip
    if model is not None:
        try:
            predictions = model_predictions(model, data_dir)
        except (OSError, ValueError) as e:  # data not found or not valid: say so, go on
            (missing if missing is not None else []).append(
                f"no weights or gallery figures for {model}: {e}"
            )
        else:
            figures.append(Figure(
                training_plots.first_layer(predictions["W0"], out / "first-layer.png"),
                "What the first layer learned",
                "Each square is one hidden unit's 784 input weights, as a 28x28 image.",
                str(model),
            ))  # fmt: skip
            figures.append(Figure(
                training_plots.misclassified(
                    predictions["images"], predictions["true"], predictions["predicted"],
                    predictions["confidence"], out / "misclassified.png", predictions["classes"],
                ),
                "Misclassified test images",
                "The network's most confident mistakes: true -> predicted label, confidence.",
                str(model),
            ))  # fmt: skip
    return figures


def xor_predictor(seed: int = 0, epochs: int = 2000):
    """Phase 1's XOR network trained as its example does; returns points (k, 2) -> outputs."""
    from phase1_python import Matrix
    from phase1_python.examples.xor import train

    net, _ = train(seed, epochs, progress=False)

    def predict(points: np.ndarray) -> np.ndarray:
        return np.array(net(Matrix(points.tolist())).data)[:, 0]

    return predict


def _machine(data: dict) -> str:
    """The machine a benchmark run names, for a caption: its GPU, else its CPU."""
    machine = data.get("machine", {})
    return html.escape(str(machine.get("gpu") or machine.get("cpu") or ""))


def benchmark_figures(found: Gathered, out: Path) -> list[Figure]:
    """The roadmap and the ladder, each from the first (latest) run that has its rows."""
    figures = []
    path, data, roadmap = first_with(found, "roadmap", "roadmap")
    if not roadmap:  # runs of Phase 4's benchmark before the roadmap had its own command
        path, data, roadmap = first_with(found, "phase4_matmul", "roadmap")
    if roadmap:
        figures.append(Figure(
            benchmark_plots.performance_roadmap(roadmap, out / "roadmap.png"),
            "The performance roadmap",
            "One product by every route, timed in one run on one machine "
            f"({_machine(data)}); labels: "
            "speed-up over pure Python. C is Phase 3's C-API binding.",
            str(path),
        ))  # fmt: skip
    else:
        found.missing.append(
            "no roadmap: `nox -s bench` (or `python -m phase6_report.roadmap`) measures it"
        )
    path, data, training = first_with(found, "training_roadmap", "training")
    if training:
        figures.append(Figure(
            benchmark_plots.training_roadmap(training, out / "training_roadmap.png"),
            "The training roadmap",
            "One training step of the same network by every route, each checked against "
            "Phase 2's float64 step first, timed in one run on one machine "
            f"({_machine(data)}); labels: "
            "speed-up over pure Python.",
            str(path),
        ))  # fmt: skip
    else:
        found.missing.append(
            "no training roadmap: `python -m phase6_report.training_roadmap --json "
            "results/training_roadmap.json` measures it"
        )
    ladder_path, _, ladder = first_with(found, "phase4_matmul", "ladder")
    c_path, _, c_rows = first_with(found, "phase3_matmul")
    c_rows = [r for r in c_rows if "numpy_s" in r]
    if ladder or c_rows:
        figures.append(Figure(
            benchmark_plots.matmul_ladder(ladder, c_rows, out / "ladder.png"),
            "The matmul ladder",
            "Left: each CUDA version as a share of cuBLAS SGEMM. Right: each C binding as a "
            "share of NumPy (OpenBLAS), by size and dtype (one thread; dotted: the C-API "
            "binding on two).",
            ", ".join(str(p) for p in (ladder_path, c_path) if p),
        ))  # fmt: skip
    return figures


def build(
    directories: list[str | Path],
    out: str | Path,
    data_dir: str | Path | None = None,
    xor: bool = True,
) -> Path:
    """Write every figure the results allow and index.html into `out`; return the page's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    found = gather(directories)
    model_label = next((k for k in found.models if k.startswith("mnist")), None)
    model_label = model_label or next(iter(found.models), None)
    figures = benchmark_figures(found, out)
    figures += training_figures(
        found.training, found.models.get(model_label), out, data_dir, found.missing
    )
    if xor:
        figures.append(Figure(
            training_plots.xor_boundary(xor_predictor(), out / "xor.png"),
            "Phase 1: XOR",
            "The pure-Python 2-4-1 network's output over the plane (trained here, as "
            "`python -m phase1_python.examples.xor` does); the black line is its decision "
            "boundary.",
            "phase1_python.examples.xor (seed 0, 2000 epochs)",
        ))  # fmt: skip
    page = out / "index.html"
    atomic_write_text(page, render(figures, found.missing))
    return page


def render(figures: list[Figure], missing: list[str]) -> str:
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>nn-foundations: results</title>",
        "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto;padding:0 1em;"
        "color:#222;background:#fff}figure{margin:2em 0}img{max-width:100%;"
        "border:1px solid #ddd}figcaption{color:#555;font-size:.9em}code{font-size:.9em}"
        ".missing{background:#fff6e0;padding:.5em 1em;border-left:4px solid #e0a000}</style>",
        "</head><body>",
        "<h1>nn-foundations: what was learned and how fast it ran</h1>",
        f"<p>Generated {html.escape(time.strftime('%Y-%m-%d %H:%M'))} by "
        "<code>nox -s report</code>. Each figure names the results file it was drawn from.</p>",
    ]
    if missing:
        parts.append('<div class="missing"><p>Not in this report:</p><ul>')
        parts += [f"<li>{html.escape(m)}</li>" for m in missing]
        parts.append("</ul></div>")
    for f in figures:
        data = base64.b64encode(f.path.read_bytes()).decode("ascii")
        parts.append(
            f'<figure id="{html.escape(f.path.stem)}"><h2>{html.escape(f.title)}</h2>'
            f'<img src="data:image/png;base64,{data}" alt="{html.escape(f.title)}">'
            f"<figcaption>{f.caption} From <code>{html.escape(f.source)}</code>; "
            f'image file: <a href="{html.escape(f.path.name)}">{html.escape(f.path.name)}</a>'
            "</figcaption></figure>"
        )
    parts.append("</body></html>\n")
    return "\n".join(parts)
