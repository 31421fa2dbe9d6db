"""The busy-machine check with fake readings (and once with a real busy child process), and the
warning a load record gives."""

import os
import subprocess
import sys
import time

import pytest

from shared.load_monitor import LoadMonitor, all_cpu_seconds, load_warning


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


def test_the_warning_of_a_load_record():
    assert load_warning({}) is None  # a results file written before the record existed
    assert load_warning({"busy": False, "reasons": [], "unsteady": []}) is None
    record = {"busy": True, "reasons": ["load average 2.4 on 2 cores"], "unsteady": ["numpy"],
              "spread_threshold": 2.0}  # fmt: skip
    assert load_warning(record) == (
        "the machine was busy during this run (load average 2.4 on 2 cores) and the repeats of "
        "numpy varied by more than 2x: timings and ratios are unreliable; rerun on a quiet machine"
    )
