"""Timing a callable with a fake clock, FLOP rates, and which timings repeated unsteadily."""

import pytest

from shared.timing import Timing, flop_rate, matmul_flops, time_call, unsteady


class StepClock:
    """Each call advances by the next step, so every timed round takes a known time."""

    def __init__(self, rounds):
        self.t, self.rounds, self.calls = 0.0, list(rounds), 0

    def __call__(self):
        self.calls += 1
        if self.calls % 2 == 0:  # the end of a round
            self.t += self.rounds.pop(0)
        return self.t


def test_time_call_warms_up_then_reports_median_and_min():
    calls = []
    timing = time_call(
        lambda: calls.append(1), warmup=2, repeat=5, clock=StepClock([5, 1, 3, 2, 4])
    )
    assert len(calls) == 7
    assert timing.times == [5, 1, 3, 2, 4]
    assert timing.median == 3 and timing.min == 1 and timing.mean == 3


def test_time_call_divides_by_number_and_syncs_each_round():
    synced = []
    timing = time_call(lambda: None, warmup=0, repeat=2, number=4, sync=lambda: synced.append(1),
                       clock=StepClock([8, 4]))  # fmt: skip
    assert timing.times == [2, 1]
    assert len(synced) == 3  # once after the warm-up, once per round


def test_time_call_stops_early_after_max_seconds():
    timing = time_call(lambda: None, warmup=0, repeat=10, max_seconds=5, clock=StepClock([3, 3, 3]))
    assert timing.times == [3, 3]


def test_time_call_rejects_nonsense():
    with pytest.raises(ValueError):
        time_call(lambda: None, repeat=0)


def test_flop_helpers():
    assert matmul_flops(2, 3, 4) == 48
    assert flop_rate(2e9, 1.0) == 2.0
    assert flop_rate(5e12, 0.5, "T") == 10.0


def test_spread_and_unsteady_timings():
    assert Timing([0.2]).spread == 1.0
    assert Timing([0.2, 0.21, 0.3]).spread == pytest.approx(1.5)
    timings = {
        "steady": Timing([0.010, 0.0103, 0.0101]),
        "shaky": Timing([0.010, 0.018, 0.011]),
        "tiny and shaky": Timing([1e-6, 3e-6]),  # below a millisecond: not judged
        "tiny calls, long rounds": Timing([1e-6, 3e-6], number=10_000),
        "plain seconds": [1.0, 2.0],
    }
    assert unsteady(timings) == ["shaky", "tiny calls, long rounds", "plain seconds"]
    assert unsteady(timings, threshold=3.5) == []
    assert (
        time_call(lambda: None, warmup=0, repeat=2, number=4, clock=StepClock([8, 4])).number == 4
    )
