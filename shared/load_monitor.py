"""Noticing a busy machine: how much CPU time other processes took while a benchmark ran, and the
warning a benchmark prints (and records) when that, or unsteady repeats, make its numbers
unreliable:

    with LoadMonitor() as load:
        ...                       # the benchmark
    load.verdict().busy           # and .reasons, what others used, the load averages

It reads what Linux offers (/proc/stat, the load average) and falls back to the load average
alone elsewhere. It leaves out timing (shared/timing.py) and where the verdict is recorded
(`BenchResults.note_load` in shared/results.py); it does not tell which process was the
competitor.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from shared.timing import UNSTEADY_SPREAD

__all__ = [
    "BUSY_LOAD_PER_CORE",
    "BUSY_OTHER_CORES",
    "MIN_MONITORED_S",
    "LoadMonitor",
    "LoadVerdict",
    "all_cpu_seconds",
    "available_cores",
    "load_average",
    "load_warning",
    "own_cpu_seconds",
]

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
    load average before the run stands in: busy above `BUSY_LOAD_PER_CORE` per available core.
    The readers and the clock are parameters so that tests can pass fakes.
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
    """The warning for a `BenchResults.load` record (a LoadVerdict's fields, with the names of
    the unsteady timings and the spread they were judged by), or None when the run was quiet and
    steady."""
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
