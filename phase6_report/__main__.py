"""python -m phase6_report [--results DIR ...] [--out DIR] [--data-dir DIR] [--no-xor]

Gathers the latest results of every phase and writes the figures and a self-contained HTML page
into --out; prints the page's path.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from phase6_report.plots import MissingPlotting
from phase6_report.report import build
from phase6_report.results import ResultsError

#: where results live when the command runs from the repository's root: the latest runs first,
#: then the GPU results committed with Phases 4 and 5 (CI and most machines have no GPU)
DEFAULT_RESULTS = ["results", "phase4_cuda/results", "phase5_training/results"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    p.add_argument(
        "--results", nargs="+", default=None,
        help=f"results folders, most recent first (default: {' '.join(DEFAULT_RESULTS)})",
    )  # fmt: skip
    p.add_argument("--out", default="results/report", help="output folder (default: %(default)s)")
    p.add_argument("--data-dir", help="MNIST data folder, for the misclassified-images gallery")
    p.add_argument("--no-xor", action="store_true", help="leave out Phase 1's XOR figure")
    args = p.parse_args(argv)
    folders = args.results or [d for d in DEFAULT_RESULTS if Path(d).is_dir()] or ["results"]
    try:
        page = build(folders, args.out, args.data_dir, xor=not args.no_xor)
    except (MissingPlotting, ResultsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"report written: {page.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
