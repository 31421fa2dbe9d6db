"""The benchmark harness: timing with a fake clock, FLOP rates, JSON and Markdown output, and the
busy-machine check with fake readings (and once with a real busy child process)."""

import json
import os
import subprocess
import sys
import time

import pytest

from shared.bench import (
    SCHEMA,
    BenchResults,
    LoadMonitor,
    Timing,
    all_cpu_seconds,
    flop_rate,
    load_warning,
    machine_info,
    markdown_table,
    matmul_flops,
    time_call,
    unsteady,
)


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
    assert data["name"] == "demo" and data["rows"] == [{"n": 10, "median_s": 0.5}]
    assert data["notes"] == ["a note"] and data["load"] == {}
    assert list(tmp_path.glob("sub/.*")) == []  # no temporary file left behind


# -- a busy machine and unsteady timings ------------------------------------------------------


class Machine:
    """Fake readings for LoadMonitor: the test sets them before start() and again before stop()."""

    def __init__(self, load=0.1, all_cpu=1000.0, own_cpu=5.0):
        self.t, self.load, self.all_cpu, self.own_cpu = 0.0, load, all_cpu, own_cpu

    def monitor(self, cores=2, proc_stat=True):
        return LoadMonitor(
            clock=lambda: self.t,
            all_cpu=(lambda: self.all_cpu) if proc_stat else (lambda: None),
            own_cpu=lambda: self.own_cpu,
            loadavg=lambda: self.load,
            cores=cores,
        )

    def run(self, seconds, others, own, load_after=None):
        """Pass `seconds` in which other processes use `others` CPU seconds and we use `own`."""
        self.t += seconds
        self.all_cpu += others + own
        self.own_cpu += own
        self.load = self.load if load_after is None else load_after


def test_quiet_machine_is_not_busy():
    machine = Machine(load=0.3)
    with machine.monitor() as load:
        machine.run(10, others=0.5, own=10, load_after=1.1)  # others: 0.05 cores
    v = load.verdict()
    assert not v.busy and v.reasons == []
    assert v.other_cpu_cores == pytest.approx(0.05) and v.seconds == 10
    assert (v.load_before, v.load_after, v.cores) == (0.3, 1.1, 2)


def test_others_using_more_than_half_a_core_make_it_busy():
    machine = Machine()
    with machine.monitor() as load:
        machine.run(10, others=13, own=10)
    v = load.verdict()
    assert v.busy and v.other_cpu_cores == pytest.approx(1.3)
    assert v.reasons == ["other processes used 1.3 cores on average"]


def test_a_load_average_above_the_core_count_makes_it_busy_where_others_are_not_measured():
    machine = Machine(load=2.4)
    load = machine.monitor(cores=2, proc_stat=False).start()
    machine.run(10, others=0, own=20, load_after=0.5)
    v = load.stop()
    assert v.busy and v.reasons == ["load average 2.4 on 2 cores"]
    machine = Machine(load=1.5)  # on one core; the load at the end (our own threads) is not judged
    load = machine.monitor(cores=1, proc_stat=False).start()
    machine.run(10, others=0, own=10, load_after=9.0)
    assert load.stop().reasons == ["load average 1.5 on 1 core"]
    # where /proc/stat says what others used, a trailing load average (the minute before, our
    # own build included) is not held against a quiet run
    machine = Machine(load=5.9)
    with machine.monitor(cores=2) as load:
        machine.run(10, others=0.03, own=20)
    assert not load.verdict().busy


def test_without_proc_stat_only_the_load_average_is_judged():
    machine = Machine(load=0.2)
    with machine.monitor(proc_stat=False) as load:
        machine.run(10, others=50, own=10)
    v = load.verdict()
    assert not v.busy and v.other_cpu_cores is None


def test_a_run_too_short_to_measure_leaves_others_unmeasured():
    machine = Machine()
    with machine.monitor() as load:
        machine.run(0.1, others=0.2, own=0.1)  # 2 cores' worth, but only 10 ticks of 1/100 s
    assert load.verdict().other_cpu_cores is None and not load.verdict().busy


def test_verdict_before_the_run_is_an_error():
    with pytest.raises(RuntimeError, match="with LoadMonitor"):
        Machine().monitor().verdict()


def test_proc_stat_reader(tmp_path):
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal guest guest_nice
    stat.write_text("cpu  100 20 30 9999 500 4 5 6 70 8\ncpu0 1 2 3 4 5 6 7 8 9 10\n")
    assert all_cpu_seconds(str(stat)) == pytest.approx(165 / os.sysconf("SC_CLK_TCK"))
    assert all_cpu_seconds(str(tmp_path / "missing")) is None


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


def test_note_load_warns_of_a_busy_machine_and_unsteady_timings():
    machine = Machine(load=2.4)
    with machine.monitor() as load:
        machine.run(10, others=13, own=10)
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
    machine = Machine()
    with machine.monitor() as load:
        machine.run(10, others=0, own=10)
    results = BenchResults(name="demo")
    names = [f"t{i}" for i in range(5)]
    assert results.note_load(load, {name: Timing([0.01, 0.0101]) for name in names}) is None
    assert results.notes == [] and results.load["busy"] is False
    again = json.loads(results.write_json(tmp_path / "quiet.json").read_text())
    assert again["load"] == results.load and load_warning(again["load"]) is None
    results.load["unsteady"] = names  # a long list is cut short
    assert "the repeats of t0, t1, t2 and 2 more varied" in results.load_warning


def test_a_real_busy_process_is_noticed():
    """A child spinning on one core beside our 1 s of sleep: others used about one core (a child
    not yet waited for is not ours yet, as its CPU time reaches os.times() only after wait())."""
    spin = "import time\nt = time.time()\nwhile time.time() - t < 1.5: pass"
    child = subprocess.Popen([sys.executable, "-c", spin])
    try:
        time.sleep(0.1)  # let it start
        with LoadMonitor() as load:
            time.sleep(1.0)
    finally:
        child.wait()
    v = load.verdict()
    if v.other_cpu_cores is None:
        pytest.skip("no /proc/stat here")
    assert v.other_cpu_cores > 0.5 and v.busy


def test_the_footer_lists_notes_then_the_warning_last():
    results = BenchResults(name="demo")
    assert results.footer() == ""
    results.notes.append("no cuBLAS column")
    results.load = {"busy": True, "reasons": ["others used 1.0 cores"], "unsteady": []}
    warning = results.load_warning
    assert warning is not None
    results.notes.append(warning)  # note_load adds it to the notes too: it is said once, last
    assert results.footer() == f"Note: no cuBLAS column\nWarning: {warning}"


def test_numpy_s_openblas_is_named_and_a_forced_core_type_is_warned_of(monkeypatch):
    from shared.bench import numpy_openblas, openblas_warning

    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # a machine may set both
        monkeypatch.delenv(name, raising=False)
    info = numpy_openblas()
    if "corename" in info:  # NumPy's wheels bundle OpenBLAS; a NumPy built on another BLAS has none
        assert info["corename"] and "OpenBLAS" in info["config"]
    assert openblas_warning(info) is None
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    forced = numpy_openblas()
    assert forced["env"] == {"OPENBLAS_CORETYPE": "Haswell"}
    warning = openblas_warning(forced)
    assert warning.startswith("OPENBLAS_CORETYPE=Haswell holds NumPy's OpenBLAS")
    assert "unset it" in warning
    assert machine_info()["openblas"].keys() >= {"env"}
