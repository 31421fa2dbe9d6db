"""The benchmark harness: timing with a fake clock, FLOP rates, JSON and Markdown output."""

import json

import pytest

from shared.bench import SCHEMA, BenchResults, flop_rate, markdown_table, matmul_flops, time_call


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


def test_markdown_table():
    table = markdown_table(["n", "time", "rate"], [[100, 0.0123456, 1234.5], [7, None, 0.5]])
    assert table.splitlines() == [
        "| n   | time   | rate  |",
        "|-----|--------|-------|",
        "| 100 | 0.0123 | 1,234 |",
        "| 7   | –      | 0.5   |",
    ]
    with pytest.raises(ValueError, match="row 0 has 1 cells"):
        markdown_table(["a", "b"], [[1]])


def test_results_round_trip_through_json_with_machine_info(tmp_path):
    results = BenchResults(name="demo")
    results.add(n=10, median_s=0.5)
    results.notes.append("a note")
    path = results.write_json(tmp_path / "sub" / "demo.json")
    data = json.loads(path.read_text())
    assert (
        data["schema"] == SCHEMA and data["machine"]["cpu_count"] >= 1 and data["machine"]["python"]
    )
    again = BenchResults.read_json(path)
    assert again.rows == [{"n": 10, "median_s": 0.5}] and again.notes == ["a note"]
    assert "| 10 | 0.5      |" in again.to_markdown(["n", "median_s"])
    assert list(tmp_path.glob("sub/.*")) == []  # no temporary file left behind


def test_results_from_another_schema_are_refused(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"schema": "nn-foundations/benchmark/0", "rows": []}))
    with pytest.raises(ValueError, match=r"old\.json: schema"):
        BenchResults.read_json(path)
