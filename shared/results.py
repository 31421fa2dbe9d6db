"""What a benchmark run leaves behind: its rows, the machine they were measured on, its notes and
how busy the machine was, written as JSON (schema `SCHEMA`) and shown as Markdown tables:

    results = BenchResults(name="phase1_matmul")
    with LoadMonitor() as load:
        timings = {"numpy n=500": time_call(...), ...}
    results.add(n=500, impl="numpy", median_s=timings["numpy n=500"].median)
    warning = results.note_load(load, timings)  # recorded in results.load; None when quiet
    print(markdown_table(headers, rows)); print(results.footer())
    results.write_json("results/phase1_matmul.json")

It leaves out timing (shared/timing.py), watching the machine (shared/load_monitor.py), the
machine's own facts (shared/machine.py), and reading the files back (phase6_report/results.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shared.files import atomic_write_text
from shared.load_monitor import LoadMonitor, LoadVerdict, load_warning
from shared.machine import machine_info
from shared.timing import UNSTEADY_SPREAD, Timing, unsteady

__all__ = ["SCHEMA", "BenchResults", "markdown_table"]

#: Version of the JSON layout written by `BenchResults.write_json`; bump when it changes. (The
#: optional `load` field came later: readers take a file without it as one with `load == {}`.)
SCHEMA = "nn-foundations/benchmark/1"


@dataclass
class BenchResults:
    """Rows of one benchmark run, with the machine they were measured on.

    Each row is a flat dict (`{"n": 200, "impl": "numpy", "median_s": ...}`); each benchmark
    picks and orders its table's columns from them (`markdown_table`). `load` is how busy the
    machine was (`note_load`).
    """

    name: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=machine_info)
    notes: list[str] = field(default_factory=list)
    load: dict[str, Any] = field(default_factory=dict)

    def add(self, **row: Any) -> dict[str, Any]:
        self.rows.append(row)
        return row

    def note_load(
        self,
        monitor: LoadMonitor | LoadVerdict,
        timings: Mapping[str, Timing | Sequence[float]] | None = None,
    ) -> str | None:
        """Record in `load` how busy the machine was and which `timings` were unsteady; when
        either makes the numbers unreliable, add a warning to `notes` and return it (else None)."""
        verdict = monitor.verdict() if isinstance(monitor, LoadMonitor) else monitor
        self.load = verdict.as_dict() | {
            "unsteady": unsteady(timings or {}),
            "spread_threshold": UNSTEADY_SPREAD,
        }
        warning = self.load_warning
        if warning is not None:
            self.notes.append(warning)
        return warning

    @property
    def load_warning(self) -> str | None:
        return load_warning(self.load)

    def footer(self) -> str:
        """What follows a benchmark's tables: each note ("Note: ..."), then the warning about a
        busy machine or unsteady repeats, if any ("Warning: ..."), last so that it is seen."""
        warning = self.load_warning
        lines = [f"Note: {note}" for note in self.notes if note != warning]
        if warning:
            lines.append(f"Warning: {warning}")
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps({"schema": SCHEMA, **asdict(self)}, indent=2, sort_keys=False)

    def write_json(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically (a reader never sees half a file) and return the path."""
        return atomic_write_text(path, self.to_json() + "\n")


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    return str(value)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub Markdown table; floats get 3 significant digits, None becomes an en dash."""
    for i, row in enumerate(rows):
        if len(row) != len(headers):
            raise ValueError(f"row {i} has {len(row)} cells, the header has {len(headers)}")
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[j]) for r in cells) for j in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
