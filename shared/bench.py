"""The benchmark harness every phase uses: time a callable, report median and min, turn times into
FLOP rates, record the machine, write JSON and render Markdown tables.

It measures wall-clock time around a call. Work that runs asynchronously (a GPU kernel) must be
finished inside the call: pass `sync=` (for example `numba.cuda.synchronize`). It deliberately leaves
out statistics beyond median/min/mean/stdev and any plotting (see the report phase for pictures).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shared.files import atomic_write_text

__all__ = [
    "SCHEMA",
    "BenchResults",
    "Timing",
    "flop_rate",
    "machine_info",
    "markdown_table",
    "matmul_flops",
    "time_call",
]

#: Version of the JSON layout written by `BenchResults.write_json`; bump when it changes.
SCHEMA = "nn-foundations/benchmark/1"


@dataclass
class Timing:
    """Seconds per call over `len(times)` measured repeats (warm-up calls not included)."""

    times: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def min(self) -> float:
        return min(self.times)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.times)

    @property
    def stdev(self) -> float:
        return statistics.stdev(self.times) if len(self.times) > 1 else 0.0

    def summary(self) -> dict[str, float | int]:
        return {
            "median_s": self.median,
            "min_s": self.min,
            "mean_s": self.mean,
            "stdev_s": self.stdev,
            "repeats": len(self.times),
        }


def time_call(
    fn: Callable[[], Any],
    *,
    warmup: int = 1,
    repeat: int = 5,
    number: int = 1,
    sync: Callable[[], Any] | None = None,
    max_seconds: float | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Timing:
    """Call `fn` `warmup` times untimed, then time `repeat` rounds of `number` calls each.

    Each recorded time is seconds per call (round time / `number`). `sync` runs after each round,
    inside the timed region, to wait for asynchronous work. `max_seconds` stops repeating early once
    the measured rounds have used that much time (at least one round always runs), so a slow peer
    (pure Python at n=1000) does not stall the whole table.
    """
    if repeat < 1 or number < 1 or warmup < 0:
        raise ValueError(
            f"need repeat >= 1, number >= 1, warmup >= 0; got {repeat}, {number}, {warmup}"
        )
    for _ in range(warmup):
        fn()
    if sync is not None:
        sync()
    times: list[float] = []
    spent = 0.0
    for _ in range(repeat):
        t0 = clock()
        for _ in range(number):
            fn()
        if sync is not None:
            sync()
        dt = clock() - t0
        times.append(dt / number)
        spent += dt
        if max_seconds is not None and spent >= max_seconds:
            break
    return Timing(times)


def matmul_flops(m: int, n: int, k: int) -> int:
    """Floating-point operations of an (m, k) @ (k, n) product: one multiply and one add each."""
    return 2 * m * n * k


def flop_rate(flops: float, seconds: float, unit: str = "G") -> float:
    """FLOP/s in the given unit: `flop_rate(2e9, 1.0)` -> 2.0 (GFLOP/s). Units: '', K, M, G, T."""
    scale = {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}[unit]
    return flops / seconds / scale


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a result depends on: CPU, cores, Python, NumPy and (when imported) numba and the GPU."""
    info: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "threads_env": {
            k: os.environ[k]
            for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
            if k in os.environ
        },
    }
    try:
        import numpy

        info["numpy"] = numpy.__version__
    except ImportError:
        pass
    numba = sys.modules.get("numba")
    if numba is not None:
        info["numba"] = numba.__version__
    info.update(extra or {})
    return info


@dataclass
class BenchResults:
    """Rows of one benchmark run, with the machine they were measured on.

    Each row is a flat dict (`{"n": 200, "impl": "numpy", "median_s": ...}`); `columns` picks and
    orders what the Markdown table shows.
    """

    name: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=machine_info)
    notes: list[str] = field(default_factory=list)

    def add(self, **row: Any) -> dict[str, Any]:
        self.rows.append(row)
        return row

    def to_json(self) -> str:
        return json.dumps({"schema": SCHEMA, **asdict(self)}, indent=2, sort_keys=False)

    def write_json(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically (a reader never sees half a file) and return the path."""
        return atomic_write_text(path, self.to_json() + "\n")

    @classmethod
    def read_json(cls, path: str | os.PathLike[str]) -> BenchResults:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("schema") != SCHEMA:
            raise ValueError(f"{path}: schema {data.get('schema')!r}, expected {SCHEMA!r}")
        return cls(
            name=data["name"], rows=data["rows"], machine=data["machine"], notes=data["notes"]
        )

    def to_markdown(self, columns: Sequence[str], headers: Sequence[str] | None = None) -> str:
        return markdown_table(
            headers or columns, [[row.get(c, "") for c in columns] for row in self.rows]
        )


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
