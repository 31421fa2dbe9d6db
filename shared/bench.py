"""The benchmark harness every phase uses: time a callable, report median and min, turn times into
FLOP rates, record the machine, write JSON and render Markdown tables, and notice when the machine
was too busy (or the repeats too unsteady) for the numbers to mean anything:

    with LoadMonitor() as load:
        timings = {"numpy n=500": time_call(...), ...}
    warning = results.note_load(load, timings)  # recorded in results.load; None when quiet

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shared.files import atomic_write_text

__all__ = [
    "SCHEMA",
    "BenchResults",
    "LoadMonitor",
    "LoadVerdict",
    "Timing",
    "flop_rate",
    "load_warning",
    "machine_info",
    "markdown_table",
    "matmul_flops",
    "time_call",
    "unsteady",
]

#: Version of the JSON layout written by `BenchResults.write_json`; bump when it changes. (The
#: optional `load` field came later: readers take a file without it as one with `load == {}`.)
SCHEMA = "nn-foundations/benchmark/1"

#: Busy, where what others used cannot be measured: the 1-minute load average before the run was
#: above this many tasks per available core.
#: The load average counts tasks running or waiting for a CPU (on Linux also those waiting for the
#: disk); more of them than cores means a benchmark would have queued for its cores from the start.
#: Only the reading before the run is judged: the one at the end counts the benchmark's own threads.
BUSY_LOAD_PER_CORE = 1.0
#: Busy: other processes kept more than this many cores busy, on average over the run. An idle
#: machine shows 0.0-0.1 (daemons, the shell); half a core is a real competitor that takes whole
#: time slices from a benchmark thread, and on a two-core machine it is a quarter of the machine.
BUSY_OTHER_CORES = 0.5
#: Over a shorter run the CPU-time counters (ticks of 1/100 s) are too coarse to tell half a core
#: from rounding, so what others used is not measured (None).
MIN_MONITORED_S = 0.5
#: Unsteady: the slowest repeat took more than this many times the fastest. On a quiet machine a
#: single-threaded call of a millisecond or more repeats within a few percent (max/min 1.03-1.10
#: for NumPy at n = 400-800 on one core) and one that uses every core within about 1.25; 1.5 means
#: a repeat lost a third of its time to something else, which is what sharing a core looks like.
UNSTEADY_SPREAD = 1.5
#: Timings whose fastest round is shorter than this are not judged: below a millisecond, timer
#: resolution, caches and a single interrupt move a round by 2x even on a quiet machine (a 2x2
#: NumPy add, 0.5 us, has a spread near 3).
UNSTEADY_MIN_ROUND_S = 1e-3


@dataclass
class Timing:
    """Seconds per call over `len(times)` measured repeats (warm-up calls not included), each
    repeat a round of `number` calls."""

    times: list[float]
    number: int = 1

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

    @property
    def spread(self) -> float:
        """Slowest repeat over fastest: 1.0 for one repeat; a steady machine stays within 1.1."""
        return max(self.times) / self.min if self.min > 0 else float("inf")


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
    return Timing(times, number)


def unsteady(
    timings: Mapping[str, Timing | Sequence[float]],
    threshold: float = UNSTEADY_SPREAD,
    min_round_s: float = UNSTEADY_MIN_ROUND_S,
) -> list[str]:
    """Names of the timings whose repeats disagree (spread above `threshold`), in order; a plain
    list of seconds counts as a Timing of one call per round. Timings whose fastest round is
    shorter than `min_round_s` are passed over (see `UNSTEADY_MIN_ROUND_S`)."""
    names = []
    for name, t in timings.items():
        t = t if isinstance(t, Timing) else Timing(list(t))
        if t.min * t.number >= min_round_s and t.spread > threshold:
            names.append(name)
    return names


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
    else:
        info["openblas"] = numpy_openblas()
    numba = sys.modules.get("numba")
    if numba is not None:
        info["numba"] = numba.__version__
    info.update(extra or {})
    return info


#: environment variables that change which kernels OpenBLAS runs
OPENBLAS_SETTINGS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_VERBOSE")


def numpy_openblas() -> dict[str, Any]:
    """The OpenBLAS inside NumPy's wheel, as it runs now: the kernel family it picked for this
    CPU (`corename`, e.g. SkylakeX or Haswell), its build string, and the environment variables
    that steer it. Empty where NumPy uses another BLAS (read from the library NumPy loaded)."""
    import ctypes
    import glob

    import numpy

    libs = glob.glob(os.path.join(os.path.dirname(numpy.__file__) + ".libs", "*openblas*.so*"))
    info: dict[str, Any] = {}
    for path in libs:
        try:
            lib = ctypes.CDLL(path)  # already loaded by NumPy: the same copy, the same state
        except OSError:
            continue
        for suffix in ("64_", "_64", "64", ""):
            corename = getattr(lib, f"scipy_openblas_get_corename{suffix}", None)
            corename = corename or getattr(lib, f"openblas_get_corename{suffix}", None)
            config = getattr(lib, f"scipy_openblas_get_config{suffix}", None)
            config = config or getattr(lib, f"openblas_get_config{suffix}", None)
            if corename is not None:
                corename.restype = ctypes.c_char_p
                info["corename"] = corename().decode()
                if config is not None:
                    config.restype = ctypes.c_char_p
                    info["config"] = config().decode().strip()
                break
    env = {k: os.environ[k] for k in OPENBLAS_SETTINGS if k in os.environ}
    if info or env:
        info["env"] = env
    return info


def openblas_warning(info: dict[str, Any]) -> str | None:
    """A warning when the environment holds NumPy's OpenBLAS to other kernels than it would pick
    for this CPU (OPENBLAS_CORETYPE): then NumPy, the peer, is not at its best."""
    forced = info.get("env", {}).get("OPENBLAS_CORETYPE")
    if not forced:
        return None
    return (
        f"OPENBLAS_CORETYPE={forced} holds NumPy's OpenBLAS to its {info.get('corename', forced)} "
        "kernels, which may be slower than the ones it would pick for this CPU: unset it "
        "(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ...) to compare against NumPy at its best"
    )


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), else all the machine has."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS has no sched_getaffinity
        return os.cpu_count() or 1


def all_cpu_seconds(path: str = "/proc/stat") -> float | None:
    """CPU seconds every process on the machine has used since boot, from the aggregate `cpu `
    line of /proc/stat; None where there is no such file (macOS)."""
    try:
        with open(path, encoding="ascii") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    # cpu user nice system idle iowait irq softirq steal guest guest_nice, in clock ticks (proc(5));
    # idle and iowait are no work, guest time is already in user and nice; steal is time the
    # hypervisor gave to another machine, which a benchmark feels like any other competitor.
    ticks = [int(v) for v in fields[1:9]] + [0] * 8  # kernels before 2.6.11 have fewer columns
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds of this process (all its threads) and of its children that have ended and been
    waited for, so a benchmark that runs its work in child processes (`subprocess.run`) counts
    their time as its own."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def load_average() -> float | None:
    """The 1-minute load average, or None where the system has none."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows; or the value cannot be read
        return None


def _cores(n: float) -> str:
    return "1 core" if n == 1 else f"{n:g} cores"


@dataclass(frozen=True)
class LoadVerdict:
    """How busy the machine was over a monitored run, and whether that makes it `busy`.

    `other_cpu_cores` is the average number of cores other processes kept busy (None where
    /proc/stat is missing or the run was shorter than `MIN_MONITORED_S`); the load averages are
    the 1-minute ones before and at the end of the run.
    """

    busy: bool
    reasons: list[str]
    cores: int
    seconds: float
    load_before: float | None
    load_after: float | None
    other_cpu_cores: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class LoadMonitor:
    """Watches how busy the machine is while a benchmark runs: a context manager (or `start()`
    and `stop()`), whose `verdict()` afterwards says whether the machine was busy and why.

    Busy means other processes used more than `BUSY_OTHER_CORES` cores on average during the run:
    the CPU time of the whole machine (/proc/stat) less this process's and its children's. Where
    that cannot be measured (no /proc/stat, as on macOS, or a run under `MIN_MONITORED_S`), the
    load average before the run stands in: busy above `BUSY_LOAD_PER_CORE` per available core. The readers and the clock are
    parameters so that tests can pass fakes.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        all_cpu: Callable[[], float | None] = all_cpu_seconds,
        own_cpu: Callable[[], float] = own_cpu_seconds,
        loadavg: Callable[[], float | None] = load_average,
        cores: int | None = None,
    ) -> None:
        self.clock, self.all_cpu, self.own_cpu, self.loadavg = clock, all_cpu, own_cpu, loadavg
        self.cores = cores if cores is not None else available_cores()
        self._start: tuple[float, float | None, float | None, float] | None = None
        self._verdict: LoadVerdict | None = None

    def start(self) -> LoadMonitor:
        self._verdict = None
        self._start = (self.clock(), self.loadavg(), self.all_cpu(), self.own_cpu())
        return self

    def stop(self) -> LoadVerdict:
        if self._start is None:
            raise RuntimeError("LoadMonitor.stop() before start()")
        t1, all1, own1, load_after = self.clock(), self.all_cpu(), self.own_cpu(), self.loadavg()
        t0, load_before, all0, own0 = self._start
        seconds = t1 - t0
        others = None
        if all0 is not None and all1 is not None and seconds >= MIN_MONITORED_S:
            # Counters tick in 1/100 s, so rounding can leave a hair below zero on an idle machine.
            others = max(0.0, ((all1 - all0) - (own1 - own0)) / seconds)
        reasons = []
        if others is not None and others > BUSY_OTHER_CORES:
            reasons.append(f"other processes used {others:.1f} cores on average")
        # The load average trails by a minute (it still counts what ran just before, this
        # project's own build included): it is the judge only where others cannot be measured.
        if (
            others is None
            and load_before is not None
            and load_before > BUSY_LOAD_PER_CORE * self.cores
        ):
            reasons.append(f"load average {load_before:.1f} on {_cores(self.cores)}")
        self._verdict = LoadVerdict(
            busy=bool(reasons),
            reasons=reasons,
            cores=self.cores,
            seconds=seconds,
            load_before=load_before,
            load_after=load_after,
            other_cpu_cores=others,
        )
        return self._verdict

    def verdict(self) -> LoadVerdict:
        if self._verdict is None:
            raise RuntimeError("no verdict yet: use `with LoadMonitor() as load:` around the run")
        return self._verdict

    def __enter__(self) -> LoadMonitor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _some(names: Sequence[str], shown: int = 3) -> str:
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


def load_warning(load: Mapping[str, Any]) -> str | None:
    """The warning for a `BenchResults.load` record, or None when the run was quiet and steady."""
    problems = []
    if load.get("busy"):
        problems.append(f"the machine was busy during this run ({'; '.join(load['reasons'])})")
    if load.get("unsteady"):
        names = load["unsteady"]
        problems.append(
            f"the repeats of {_some(names)} varied by more than "
            f"{load.get('spread_threshold', UNSTEADY_SPREAD):g}x"
        )
    if not problems:
        return None
    return " and ".join(problems) + ": timings and ratios are unreliable; rerun on a quiet machine"


@dataclass
class BenchResults:
    """Rows of one benchmark run, with the machine they were measured on.

    Each row is a flat dict (`{"n": 200, "impl": "numpy", "median_s": ...}`); `columns` picks and
    orders what the Markdown table shows. `load` is how busy the machine was (`note_load`).
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
