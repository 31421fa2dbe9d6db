"""python -m phase6_report [--results DIR ...] [--out DIR] [--data-dir DIR] [--no-xor]
python -m phase6_report --run results/mnist [--data-dir DIR]

Gathers the latest results of every phase and writes the figures and a self-contained HTML page
into --out; prints the page's path. With --run, draws one finished training run's figures (its
curves, confusion matrix, first layer and misclassified digits) into RUN/plots instead, without
retraining.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from phase6_report.plots import MissingPlotting
from phase6_report.report import build, training_figures
from phase6_report.results import ResultsError
from shared.cli import OneLineParser

#: where results live, in the repository: this machine's runs first (what `nox -s bench` and the
#: phases' sessions write), then the results committed with Phases 4, 5 and 3 (the GPU ones:
#: CI and most machines have no GPU)
DEFAULT_RESULTS = ["results", "phase4_cuda/results", "phase5_training/results", "phase3_c/results"]
#: the repository's root, where DEFAULT_RESULTS are looked for when the current folder lacks them
ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(description=__doc__.split("\n\n")[1])
    p.add_argument(
        "--results", nargs="+", default=None,
        help=f"results folders, most recent first (default: {' '.join(DEFAULT_RESULTS)})",
    )  # fmt: skip
    p.add_argument("--out", default="results/report", help="output folder (default: %(default)s)")
    p.add_argument("--data-dir", help="MNIST data folder, for the misclassified-images gallery")
    p.add_argument("--no-xor", action="store_true", help="leave out Phase 1's XOR figure")
    p.add_argument(
        "--run", metavar="RUN",
        help="draw one training run's figures (RUN/metrics.json, RUN/model.npz) into RUN/plots",
    )  # fmt: skip
    args = p.parse_args(argv)
    if args.run:
        return draw_run(Path(args.run), args.data_dir)
    folders = args.results or default_folders()
    command = shlex.join(
        ["python", "-m", "phase6_report", *(sys.argv[1:] if argv is None else argv)]
    )
    if Path(args.out).exists() and not Path(args.out).is_dir():
        print(f"error: --out {args.out} is a file, not a folder", file=sys.stderr)
        return 2
    try:
        page = build(folders, args.out, args.data_dir, xor=not args.no_xor, command=command)
    except (MissingPlotting, ResultsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a folder that cannot be made or written
        print(
            f"error: --out {args.out}: cannot write the report there ({e.strerror or e})",
            file=sys.stderr,
        )
        return 2
    print(f"report written: {page.resolve()}")
    return 0


def default_folders() -> list[Path]:
    """DEFAULT_RESULTS that exist, in the current folder, else in the repository's root (so that
    the command finds this machine's results/ from any folder of the checkout)."""
    base = Path() if Path(DEFAULT_RESULTS[0]).is_dir() else ROOT
    return [base / d for d in DEFAULT_RESULTS if (base / d).is_dir()] or [Path("results")]


def draw_run(run: Path, data_dir: str | None = None) -> int:
    """The figures of the training run in `run` (what `python -m phase5_training --out RUN`
    wrote), into RUN/plots; 2 with a one-line error when the run or matplotlib is missing."""
    try:
        metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
        label = f"{metrics['dataset']}, {metrics['device']}"
        if not isinstance(metrics.get("history"), list) or not metrics["history"]:
            raise ValueError("it holds no epochs (its history is missing or empty)")
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
        print(
            f"error: --run {run}: no readable metrics.json from a training run ({e})",
            file=sys.stderr,
        )
        return 2
    missing: list[str] = []
    try:
        if (run / "plots").exists() and not (run / "plots").is_dir():
            raise ResultsError(f"{run / 'plots'} is a file, where the run's figures go")
        (run / "plots").mkdir(exist_ok=True)
        model = run / "model.npz"
        figures = training_figures(
            {label: (run / "metrics.json", metrics)}, model if model.exists() else None,
            run / "plots", data_dir, missing,
        )  # fmt: skip
    except (MissingPlotting, ResultsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a read-only run folder, a full disk
        print(
            f"error: cannot write the figures into {run / 'plots'} ({e.strerror or e})",
            file=sys.stderr,
        )
        return 2
    for note in missing:
        print(f"note: {note}")
    print(f"{len(figures)} figures in {run / 'plots'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
