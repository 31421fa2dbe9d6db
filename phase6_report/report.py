"""The report: every figure the results allow, as PNGs plus one self-contained HTML page.

    python -m phase6_report [--results DIR ...] [--out DIR] [--data-dir DIR]

The page embeds each image (base64 data URIs: it opens offline, from anywhere) and links the PNG
beside it. It says how it was made, what each figure was drawn from (paths relative to the
repository), and lists what is missing and which command would produce it, so a report after
`nox -s mnist` alone still renders, with the training figures and whatever benchmarks exist.
The benchmark figures show this machine's runs (the first results folder) where there are any,
beside the runs committed with the phases.
"""

from __future__ import annotations

import base64
import html
import re
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from phase6_report import benchmark_plots, training_plots
from phase6_report.results import Gathered, first_with, gather, machine_label
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
    prepared exactly as for training (phase2_numpy.data.prepare_data). Also the first two weight
    matrices, W0 (784, hidden) and W1 (hidden, next), and W0_init, the first layer's weights
    before training (He initialisation from the run's seed, as Phase 5 starts), or None when W0
    did not start from them (its correlation with them is below 0.5)."""
    from phase2_numpy.data import prepare_data
    from phase2_numpy.network import he_init, reference_forward, softmax
    from phase5_training.checkpoint import load_checkpoint
    from shared.datasets import load_dataset

    params, config, _ = load_checkpoint(model)
    dataset = load_dataset(
        config.dataset, data_dir, download_missing=False
    )  # a report: no fetching
    x = prepare_data(dataset, config)["x_test"]
    p = softmax(reference_forward(params.W, params.b, x)[-1])
    start = he_init(tuple(config.widths), config.seed).W[0]
    # training moves each weight a little from its start: a trained W0 still correlates with it
    from_start = np.corrcoef(np.ravel(params.W[0]), np.ravel(start))[0, 1] > 0.5
    return {
        "images": dataset.x_test,
        "true": dataset.y_test.astype(np.int64),
        "predicted": p.argmax(axis=1),
        "confidence": p.max(axis=1),
        "classes": list(dataset.classes),
        "W0": params.W[0],
        "W1": params.W[1] if len(params.W) > 1 else None,
        "W0_init": start if from_start else None,
    }


def training_figures(
    runs: dict[str, tuple[Path, dict]],
    model: Path | None,
    out: Path,
    data_dir: str | Path | None = None,
    missing: list[str] | None = None,
) -> list[Figure]:
    """Curves of every run, each run's confusion matrix (one for runs whose matrices agree), and
    for `model` its first layer, its most frequent mistakes and its most confident ones. Used by
    the report and by `python -m phase6_report --run RUN`."""
    figures = []
    if runs:
        names = ", ".join(runs)
        figures.append(Figure(
            training_plots.training_curves({k: m for k, (_, m) in runs.items()}, out / "training-curves.png"),
            "Training curves", f"Loss and accuracy per epoch: {names}. Colour and marker "
            "tell the runs apart, the line style the data (train, test, validation).",
            ", ".join(str(p) for p, _ in runs.values()),
        ))  # fmt: skip
    metrics_of = {label: metrics for label, (_, metrics) in runs.items()}
    for i, group in enumerate(training_plots.agreeing_runs(metrics_of)):
        metrics = metrics_of[group[0]]
        caption = (
            "Rows: the true class; columns: the predicted one. Colour shows the mistakes only "
            "(the right answers, on the diagonal, are grey); the five most frequent are outlined."
        )
        also = ""
        if len(group) > 1:  # runs whose matrices agree: drawn once
            also = f" (standing for {' and '.join(group[1:])} too)"
            caption += f' Drawn from "{group[0]}", it stands for the other runs too:'
        for other in group[1:]:
            cells, images = training_plots.confusion_difference(
                metrics["test"]["confusion"], metrics_of[other]["test"]["confusion"]
            )
            caption += (
                f' "{other}" has the identical matrix.'
                if cells == 0
                else f' "{other}" has the same matrix but for {cells} of '
                f"{len(metrics['test']['confusion']) ** 2} cells (at least {images} test "
                "images answered differently)."
            )
        figures.append(Figure(
            training_plots.confusion_matrix(metrics, out / f"confusion-{i + 1}.png"),
            f"Confusion matrix: {group[0]}{also}", caption,
            ", ".join(str(runs[label][0]) for label in group),
        ))  # fmt: skip
    if model is not None:
        try:
            predictions = model_predictions(model, data_dir)
        except (OSError, ValueError) as e:  # data not found or not valid: say so, go on
            (missing if missing is not None else []).append(
                f"no weights or gallery figures for {model}: {e}"
            )
        else:
            start = predictions["W0_init"]
            figures.append(Figure(
                training_plots.first_layer(predictions["W0"], out / "first-layer.png",
                                           predictions["W1"], start),
                "What the first layer learned",
                "Each square is one hidden unit's 784 input weights as a 28x28 image"
                + (", less the random weights it started from: what training added."
                   if start is not None else ".")
                + " The heading says which units are shown.",
                str(model),
            ))  # fmt: skip
            figures.append(Figure(
                training_plots.top_confusions(
                    predictions["images"], predictions["true"], predictions["predicted"],
                    out / "top-confusions.png", predictions["classes"],
                ),
                "The most frequent mistakes",
                "The five (true class -> predicted class) pairs the network gets wrong most "
                "often, each with up to ten of its test images.",
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


def _label(data: dict | None) -> str:
    """The machine a run names, for a figure or a caption (see results.machine_label)."""
    return machine_label(data) or "a machine the file does not name"


def _caveat(data: dict | None) -> str:
    """What the run recorded against its own numbers, in a few words: the benchmarks note a
    busy machine or unsteady repeats (shared/load_monitor.py)."""
    load = (data or {}).get("load") or {}
    if load.get("busy"):
        return "busy machine"
    return "unsteady run" if load.get("unsteady") else ""


def _two_runs(found: Gathered, lookups: list[tuple[str, str]]) -> tuple[tuple, tuple]:
    """This machine's run and the first of the others (committed), each (path, data, rows) from
    the first (name, kind) of `lookups` that has rows there."""

    def first(local: bool) -> tuple:
        for name, kind in lookups:
            hit = first_with(found, name, kind, local=local)
            if hit[2]:
                return hit
        return None, None, []

    return first(True), first(False)


def _roadmap_figure(found: Gathered, out: Path, which: str) -> Figure | None:
    """The performance (which="roadmap") or training roadmap: this machine's run where there
    is one, with the committed run beside it."""
    if which == "roadmap":  # older Phase 4 runs carried the roadmap before it had its own command
        lookups = [("roadmap", "roadmap"), ("phase4_matmul", "roadmap")]
        draw, what = benchmark_plots.performance_roadmap, "One 1000x1000 product by every route"
    else:
        lookups = [("training_roadmap", "training")]
        draw = benchmark_plots.training_roadmap
        what = ("One training step of the same network by every route, each checked against "
                "Phase 2's float64 step first")  # fmt: skip
    mine, theirs = _two_runs(found, lookups)
    first, second = (mine, theirs) if mine[2] else (theirs, (None, None, []))
    if not first[2]:
        return None
    beside = (_label(second[1]), second[2]) if second[2] else None
    path = draw(first[2], out / f"{which}.png", machine=_label(first[1]), beside=beside)
    machines = f"on {_label(first[1])}"
    if beside:
        machines = f"on this machine ({_label(first[1])}, solid) and on {beside[0]} (hatched)"
    caption = (
        f"{what}, each run timed on one machine: {machines}. Labels: the speed-up over pure "
        "Python on the same machine."
    )
    if which == "roadmap":
        caption += " C is Phase 3's C-API binding."
    title = "The performance roadmap" if which == "roadmap" else "The training roadmap"
    sources = ", ".join(str(p) for p in (first[0], second[0]) if p)
    return Figure(path, title, caption, sources)


def _ladder_figure(found: Gathered, out: Path, local: bool | None, name: str) -> Figure | None:
    """The matmul ladder from the first runs (local=None), or from the committed ones only."""
    ladder_path, ladder_data, ladder = first_with(found, "phase4_matmul", "ladder", local=local)
    c_path, c_data, c_rows = first_with(found, "phase3_matmul", rows_with="numpy_s", local=local)
    if not (ladder or c_rows):
        return None
    path = benchmark_plots.matmul_ladder(
        ladder, c_rows, out / name,
        ladder_machine=_label(ladder_data) if ladder else "", ladder_caveat=_caveat(ladder_data),
        c_machine=_label(c_data) if c_rows else "", c_caveat=_caveat(c_data),
    )  # fmt: skip
    parts = []
    if ladder:
        parts.append("each CUDA version as a share of cuBLAS SGEMM")
    if c_rows:
        parts.append(
            "each C binding as a share of NumPy (OpenBLAS), by size and dtype (one thread; "
            "dotted: the C-API binding on two)"
        )
    title = "The matmul ladder" + (", committed runs" if local is False else "")
    said = "; ".join(parts)
    caption = f"{said[0].upper()}{said[1:]}. Each panel names the machine it ran on."
    return Figure(path, title, caption, ", ".join(str(p) for p in (ladder_path, c_path) if p))


def _phase1_figure(found: Gathered, out: Path) -> Figure | None:
    path, data, rows = first_with(found, "phase1_matmul", rows_with="pure_s")
    if not rows:
        return None
    return Figure(
        benchmark_plots.phase1_benchmark(
            rows, out / "phase1.png", machine=_label(data), caveat=_caveat(data)
        ),
        "Phase 1: pure Python against NumPy",
        "The same float64 product three ways, timed in one run: the textbook i-j-k loop, "
        "Phase 1's `Matrix @` (one transpose, then C-level dot products) and NumPy.",
        str(path),
    )


def benchmark_figures(found: Gathered, out: Path) -> list[Figure]:
    """The roadmaps, the ladder and Phase 1's benchmark, each from this machine's latest run
    where there is one (the roadmaps with the committed run beside it; the ladder, then, again
    from the committed runs in a figure of its own); what is not there goes to found.missing."""
    figures = [
        _roadmap_figure(found, out, "roadmap"),
        _roadmap_figure(found, out, "training_roadmap"),
        _ladder_figure(found, out, None, "ladder.png"),
    ]
    mine = (
        first_with(found, "phase4_matmul", "ladder", local=True)[2]
        or first_with(found, "phase3_matmul", rows_with="numpy_s", local=True)[2]
    )
    if mine:
        figures.append(_ladder_figure(found, out, False, "ladder-committed.png"))
    figures.append(_phase1_figure(found, out))
    if figures[0] is None:
        found.missing.append(
            "no roadmap: `nox -s bench` (or `python -m phase6_report.roadmap`) measures it"
        )
    if figures[1] is None:
        found.missing.append(
            "no training roadmap: `python -m phase6_report.training_roadmap --json "
            "results/training_roadmap.json` measures it"
        )
    return [f for f in figures if f is not None]


def build(
    directories: list[str | Path],
    out: str | Path,
    data_dir: str | Path | None = None,
    xor: bool = True,
    command: str | None = None,
) -> Path:
    """Write every figure the results allow and index.html into `out`; return the page's path.
    command: the command line that made the report, for the page (by default the
    `python -m phase6_report` line with these arguments)."""
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
    if command is None:
        args = ["--results", *map(str, directories), "--out", str(out)]
        args += (["--data-dir", str(data_dir)] if data_dir else []) + ([] if xor else ["--no-xor"])
        command = shlex.join(["python", "-m", "phase6_report", *args])
    page = out / "index.html"
    shown = Shown([*found.folders, out])
    atomic_write_text(page, render(figures, found.missing, shown, made_by(command)))
    return page


#: the repository's root: paths in it are shown relative to it
ROOT = Path(__file__).resolve().parents[1]
#: an absolute path in a text: a slash at the start of a word, then no space or punctuation
ABSOLUTE = re.compile(r"(?<![^\s('\"=])/[^\s,;'\"()<>]+")


class Shown:
    """Paths as the page shows them: relative to the repository's root, else to the folder
    (a results folder, the report's own) that holds them, else the file's name alone; never an
    absolute path of the machine that made the page."""

    def __init__(self, folders: list[Path]):
        self.folders = [Path(f).resolve() for f in folders]

    def path(self, path: str | Path) -> str:
        path = Path(path).resolve()
        for base, prefix in [(ROOT, None)] + [(f, f.name) for f in self.folders]:
            if path.is_relative_to(base):
                relative = path.relative_to(base)
                return str(Path(prefix, relative) if prefix else relative)
        return path.name

    def text(self, text: str) -> str:
        """`text` with every absolute path in it shown as `path` shows it."""
        return ABSOLUTE.sub(lambda m: self.path(m.group(0)), text)


def made_by(command: str) -> str:
    """How the page was made: the command, the date, the machine (`code` spans in backticks)."""
    from shared.machine import machine_info

    machine = machine_info()
    where = f"{machine['cpu']} ({machine['cpu_count']} cores), Python {machine['python']}"
    when = time.strftime("%Y-%m-%d %H:%M %Z")
    return f"Made by `{command}` on {when}, on {where}."


def rich(text: str) -> str:
    """Escaped HTML of `text`, with each `span in backticks` as a <code> element."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: show it as it is
        return html.escape(text)
    return "".join(
        f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p) for i, p in enumerate(parts)
    )


def render(
    figures: list[Figure], missing: list[str], shown: Shown | None = None, made: str = ""
) -> str:
    """The page: how it was made, what is missing, then every figure (embedded, and linked)."""
    shown = shown or Shown([])
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
        f"<p>{rich(shown.text(made))} Each figure names the results file it was drawn from, "
        "relative to the repository (or to the results folder it is in).</p>",
    ]
    if missing:
        parts.append('<div class="missing"><p>Not in this report:</p><ul>')
        parts += [f"<li>{rich(shown.text(m))}</li>" for m in missing]
        parts.append("</ul></div>")
    for f in figures:
        data = base64.b64encode(f.path.read_bytes()).decode("ascii")
        sources = ", ".join(shown.text(s) for s in f.source.split(", "))
        parts.append(
            f'<figure id="{html.escape(f.path.stem)}"><h2>{html.escape(f.title)}</h2>'
            f'<img src="data:image/png;base64,{data}" alt="{html.escape(f.title)}">'
            f"<figcaption>{rich(shown.text(f.caption))} From <code>{html.escape(sources)}</code>; "
            f'image file: <a href="{html.escape(f.path.name)}">{html.escape(f.path.name)}</a>'
            "</figcaption></figure>"
        )
    parts.append("</body></html>\n")
    return "\n".join(parts)
