"""A benchmark's results: Markdown tables, JSON with the machine's facts, and the notes and
warning that follow a run on a busy machine or with unsteady repeats."""

import json

import pytest

from shared.load_monitor import LoadMonitor, load_warning
from shared.results import SCHEMA, BenchResults, markdown_table
from shared.timing import Timing


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
    assert data["name"] == "demo" and data["rows"] == [{"n": 10, "median_s": 0.5}]
    assert data["notes"] == ["a note"] and data["load"] == {}
    assert list(tmp_path.glob("sub/.*")) == []  # no temporary file left behind


# -- a busy machine and unsteady timings ------------------------------------------------------


def monitored(others: float, own: float = 10.0, seconds: float = 10.0) -> LoadMonitor:
    """A LoadMonitor that has watched a fake run of `seconds` on 2 cores, in which other processes
    used `others` CPU seconds and this one `own` (each reader returns its reading at the start,
    then at the end)."""
    readings = {
        "clock": iter([0.0, seconds]),
        "all_cpu": iter([1000.0, 1000.0 + others + own]),
        "own_cpu": iter([5.0, 5.0 + own]),
        "loadavg": iter([2.4, 2.4]),
    }
    fakes = {name: (lambda it=it: next(it)) for name, it in readings.items()}
    with LoadMonitor(**fakes, cores=2) as load:
        pass
    return load


def test_note_load_warns_of_a_busy_machine_and_unsteady_timings():
    load = monitored(others=13)
    results = BenchResults(name="demo", machine={})
    warning = results.note_load(load, {"numpy n=100": Timing([0.01, 0.02])})
    assert warning == (
        "the machine was busy during this run (other processes used 1.3 cores on average) and "
        "the repeats of numpy n=100 varied by more than 1.5x: "
        "timings and ratios are unreliable; rerun on a quiet machine"
    )
    assert results.notes == [warning] and results.load["busy"]
    assert results.load["unsteady"] == ["numpy n=100"]
    assert results.load["other_cpu_cores"] == pytest.approx(1.3)


def test_note_load_of_a_quiet_run_records_numbers_and_adds_no_note(tmp_path):
    load = monitored(others=0)
    results = BenchResults(name="demo")
    names = [f"t{i}" for i in range(5)]
    assert results.note_load(load, {name: Timing([0.01, 0.0101]) for name in names}) is None
    assert results.notes == [] and results.load["busy"] is False
    again = json.loads(results.write_json(tmp_path / "quiet.json").read_text())
    assert again["load"] == results.load and load_warning(again["load"]) is None
    results.load["unsteady"] = names  # a long list is cut short
    assert "the repeats of t0, t1, t2 and 2 more varied" in results.load_warning


def test_the_footer_lists_notes_then_the_warning_last():
    results = BenchResults(name="demo")
    assert results.footer() == ""
    results.notes.append("no cuBLAS column")
    results.load = {"busy": True, "reasons": ["others used 1.0 cores"], "unsteady": []}
    warning = results.load_warning
    assert warning is not None
    results.notes.append(warning)  # note_load adds it to the notes too: it is said once, last
    assert results.footer() == f"Note: no cuBLAS column\nWarning: {warning}"
