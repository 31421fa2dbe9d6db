"""Reading the project's results files, which say what they are in a `schema` field:

    nn-foundations/benchmark/1   a benchmark run (shared/results.py): name, rows, machine, notes
    nn-foundations/training/1    a training run's metrics.json (phase5_training/train.py)

A file of another version of either schema is an error that names the file and both versions;
so is a file that is not valid JSON. JSON files without a schema field, or with a schema of
another kind, are not results files for the report and are passed over. What is missing (a
phase not run yet) is not an error: `gather` lists it in `missing`, and the report renders what
there is.

The first folder holds this machine's own runs (`results/`, where `nox -s bench` and the phases'
sessions write), unless it is a phase's folder of committed results (`phase4_cuda/results`):
`first_with(..., local=True)` picks from this machine's runs, `local=False` from the others.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from phase5_training.train import METRICS_SCHEMA
from shared.results import SCHEMA as BENCHMARK_SCHEMA

__all__ = [
    "BENCHMARK_SCHEMA", "METRICS_SCHEMA", "Gathered", "ResultsError", "first_with", "gather", "load",
    "machine_label",
]  # fmt: skip

#: the benchmark files the report knows, by their `name`, and the command that writes each
BENCHMARKS = {
    "phase1_matmul": "nox -s phase1 -- --large",
    "phase3_matmul": "nox -s phase3 -- --large",
    "phase4_matmul": "nox -s phase4 (on a GPU)",
}


class ResultsError(ValueError):
    """A results file that cannot be used: not JSON, or another schema version."""


def load(path: str | Path, schema: str | None = None) -> dict | None:
    """The parsed file. With `schema`, it must carry exactly that schema; without, any known
    schema passes and a file without a schema field gives None."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ResultsError(f"{path}: cannot read it as JSON ({e})") from e
    got = data.get("schema") if isinstance(data, dict) else None
    if got is None and schema is None:
        return None
    expected = [schema] if schema else [BENCHMARK_SCHEMA, METRICS_SCHEMA]
    if got not in expected:
        family = {s.rsplit("/", 1)[0]: s for s in expected}
        same_kind = isinstance(got, str) and got.rsplit("/", 1)[0] in family
        if same_kind:
            wanted = family[got.rsplit("/", 1)[0]]
            raise ResultsError(
                f"{path}: schema version {got!r}, but this report reads {wanted!r}; "
                "re-run the command that wrote it"
            )
        if schema is None and isinstance(got, str):
            return None  # a record of another kind (say, a timing log): not for this report
        raise ResultsError(f"{path}: schema {got!r} is not one of {expected}")
    return data


@dataclass
class Gathered:
    """Everything found, by kind, with the file each came from."""

    training: dict[str, tuple[Path, dict]] = field(default_factory=dict)  # label -> run
    #: name -> every run of that benchmark found, in order of priority
    benchmarks: dict[str, list[tuple[Path, dict]]] = field(default_factory=dict)
    models: dict[str, Path] = field(default_factory=dict)  # training label -> model.npz
    missing: list[str] = field(default_factory=list)
    #: the folders scanned, in order of priority
    folders: list[Path] = field(default_factory=list)
    #: the folder of this machine's own runs (the first one), None when it is a committed one
    local: Path | None = None


def gather(directories: list[str | Path]) -> Gathered:
    """Scan `directories` in order of priority (put the latest results first) for results
    files: *.json in each, and metrics.json in each subfolder (a training run's output folder,
    with its model.npz). Runs of one benchmark are ordered by folder, then newest first (by the
    date the run recorded), which is the order `first_with` picks in."""
    found = Gathered(folders=[Path(d) for d in directories])
    if found.folders and not _committed(found.folders[0]):
        found.local = found.folders[0]
    runs = []  # (folder's priority, date, path, data) of every benchmark run
    for priority, directory in enumerate(map(Path, directories)):
        if not directory.is_dir():
            found.missing.append(f"no results folder {directory}")
            continue
        files = sorted(directory.glob("*.json")) + sorted(directory.glob("*/metrics.json"))
        for path in files:
            data = load(path)
            if data is None:
                continue
            if data["schema"] == METRICS_SCHEMA:
                label = f"{data.get('dataset', '?')}, {data.get('device', '?')}"
                if label in found.training:
                    label = f"{label} ({path.parent.name}/{path.name})"
                found.training[label] = (path, data)
                model = path.parent / "model.npz"
                if path.name == "metrics.json" and model.exists():
                    found.models[label] = model
            else:
                date = str(data.get("machine", {}).get("date", ""))
                runs.append((priority, date, path, data))
    runs.sort(key=lambda r: r[1], reverse=True)  # newest first; a stable sort...
    runs.sort(key=lambda r: r[0])  # ...then by folder, keeping that order within each
    for _, _, path, data in runs:
        found.benchmarks.setdefault(data.get("name", path.stem), []).append((path, data))
    if not found.training:
        found.missing.append(
            "no training run (metrics.json): run `nox -s mnist` for the training figures"
        )
    elif not found.models:
        found.missing.append("no model.npz beside a metrics.json: no weights or gallery figures")
    for name, command in BENCHMARKS.items():
        if name not in found.benchmarks:
            found.missing.append(f"no {name} benchmark: `{command}` writes it")
    return found


def _committed(folder: Path) -> bool:
    """A phase's folder of committed results, such as phase4_cuda/results."""
    return folder.name == "results" and folder.resolve().parent.name.startswith("phase")


def first_with(
    found: Gathered,
    name: str,
    kind: str | None = None,
    *,
    rows_with: str | None = None,
    local: bool | None = None,
) -> tuple[Path, dict, list]:
    """The first run of benchmark `name` that has rows of `kind` (any kind when None) holding
    the key `rows_with` (when given): its path, its data and those rows; (None, None, []) when
    no run has them. local: True for this machine's runs only (those in `found.local`), False
    for the others, None for any."""
    for path, data in found.benchmarks.get(name, []):
        if local is not None and (found.local is not None and path.parent == found.local) != local:
            continue
        rows = [
            r for r in data.get("rows", [])
            if (kind is None or r.get("kind") == kind) and (rows_with is None or rows_with in r)
        ]  # fmt: skip
        if rows:
            return path, data, rows
    return None, None, []


def machine_label(data: dict | None) -> str:
    """The machine a run names, with the day it ran: its GPU, else its CPU ("NVIDIA H100 80GB
    HBM3, 2026-11-24"); empty when the run names none."""
    machine = (data or {}).get("machine") or {}
    name = str(machine.get("gpu") or machine.get("cpu") or "")
    day = str(machine.get("date", ""))[:10]
    return ", ".join(part for part in (name, day) if part)
