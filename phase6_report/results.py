"""Reading the project's results files, which say what they are in a `schema` field:

    nn-foundations/benchmark/1   a benchmark run (shared/bench.py): name, rows, machine, notes
    nn-foundations/training/1    a training run's metrics.json (phase5_training/train.py)

A file of another version of either schema is an error that names the file and both versions;
so is a file that is not valid JSON. JSON files without a schema field, or with a schema of
another kind, are not results files for the report and are passed over. What is missing (a phase not run yet) is not an error: `gather` lists it in
`missing`, and the report renders what there is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from phase5_training.train import METRICS_SCHEMA
from shared.bench import SCHEMA as BENCHMARK_SCHEMA

__all__ = [
    "BENCHMARK_SCHEMA", "METRICS_SCHEMA", "Gathered", "ResultsError", "first_with", "gather", "load",
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


def gather(directories: list[str | Path]) -> Gathered:
    """Scan `directories` in order of priority (put the latest results first) for results
    files: *.json in each, and metrics.json in each subfolder (a training run's output folder,
    with its model.npz). Runs of one benchmark are ordered by folder, then newest first (by the
    date the run recorded), which is the order `first_with` picks in."""
    found = Gathered()
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


def first_with(found: Gathered, name: str, kind: str | None = None) -> tuple[Path, dict, list]:
    """The first run of benchmark `name` that has rows of `kind` (any rows when None): its path,
    its data and those rows; (None, None, []) when no run has them."""
    for path, data in found.benchmarks.get(name, []):
        rows = [r for r in data.get("rows", []) if kind is None or r.get("kind") == kind]
        if rows:
            return path, data, rows
    return None, None, []
