"""Timing a callable for the benchmarks of every phase: median and min of repeated rounds, FLOP
rates, and which timings repeated too unsteadily to trust:

    timing = time_call(lambda: a @ b, repeat=5)
    rate = flop_rate(matmul_flops(m, n, k), timing.min)  # GFLOP/s

It measures wall-clock time around a call. Work that runs asynchronously (a GPU kernel) must be
finished inside the call: pass `sync=` (for example `numba.cuda.synchronize`). It leaves out how
busy the machine was (shared/load_monitor.py), writing results (shared/results.py), statistics
beyond median/min/mean/stdev, and any plotting (see the report phase for pictures).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "UNSTEADY_MIN_ROUND_S",
    "UNSTEADY_SPREAD",
    "Timing",
    "flop_rate",
    "matmul_flops",
    "time_call",
    "unsteady",
]

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
