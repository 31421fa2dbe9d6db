"""The progress bar, driven by a fake clock and written to fake streams."""

import io

import pytest

from shared.progress import Progress, format_interval, format_meter

#: the tests `python -m shared.exercises check 1.4` runs against the learner's file
pytestmark = pytest.mark.exercise(id="1.4")


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


class Terminal(io.StringIO):
    encoding = "utf-8"

    def isatty(self):
        return True


def test_format_interval():
    assert format_interval(0) == "00:00"
    assert format_interval(75.9) == "01:15"
    assert format_interval(3723) == "1:02:03"
    assert format_interval(None) == "?" and format_interval(float("inf")) == "?"


def test_meter_shows_every_part():
    line = format_meter(
        25, 100, 5.0, desc="epoch 1", unit="img", postfix={"loss": 0.123456, "acc": 0.9}
    )
    assert line.startswith("epoch 1:  25%|#####               | 25/100 [00:05<00:15, ")
    assert "5 img/s" in line and "loss=0.1235" in line and "acc=0.9" in line


def test_meter_with_unknown_total_has_no_percentage_or_eta():
    line = format_meter(42, None, 2.0, unit="batch")
    assert line == "42 batches [00:02, 21 batch/s]"


def test_meter_counts_in_the_singular_only_for_one():
    assert format_meter(1, None, 1.0, unit="epoch").startswith("1 epoch [")
    assert format_meter(0, None, 1.0, unit="epoch").startswith("0 epochs [")
    assert format_meter(2.5, None, 1.0, unit="img").startswith("2.50 imgs [")
    assert format_meter(3, None, 1.0, unit="pass").startswith("3 passes [")


def test_meter_measures_the_rate_from_the_given_steps_and_seconds():
    # 10 of 100 steps in 50 s, but the last 5 took 5 s: 1 step/s, 90 s to go
    line = format_meter(10, 100, 50.0, rate_n=5, rate_elapsed=5.0)
    assert "[00:50<01:30, 1 it/s]" in line
    assert "<?, ? it/s]" in format_meter(10, 100, 50.0, rate_n=0, rate_elapsed=0.0)
    assert format_meter(0, 1, 0.0).startswith("  0%|")  # a total of one step, none done


def test_meter_shows_no_time_left_when_done():
    assert "[00:00<00:00, ? it/s]" in format_meter(7, 7, 0.0)


def test_terminal_redraws_in_place_at_a_bounded_rate():
    clock, out = Clock(), Terminal()
    bar = Progress(total=10, file=out, clock=clock, min_interval=0.5)
    assert out.getvalue().startswith("\r  0%|")  # drawn at once
    bar.update(1)  # no time has passed: no redraw
    assert out.getvalue().count("\r") == 1
    clock.t += 0.6
    bar.update(1)
    assert out.getvalue().count("\r") == 2 and "2/10" in out.getvalue()
    bar.update(8)  # finishing redraws at once
    bar.close()
    text = out.getvalue()
    assert "10/10" in text and "█" in text and text.endswith("\n") and text.count("\n") == 1


def test_terminal_pads_a_shorter_line_over_a_longer_one():
    clock, out = Clock(), Terminal()
    bar = Progress(total=3, file=out, clock=clock, min_interval=0)
    bar.set_postfix(loss=123456.789, note="a long postfix")
    assert "a long postfix" in out.getvalue().split("\r")[-1]  # drawn at once
    long_len = len(out.getvalue().split("\r")[-1])
    bar.set_postfix()
    assert len(out.getvalue().split("\r")[-1]) == long_len
    bar.set_description("eval")
    assert out.getvalue().split("\r")[-1].startswith("eval:")


def test_non_terminal_prints_plain_lines_at_an_interval():
    clock, out = Clock(), io.StringIO()
    bar = Progress(total=100, file=out, clock=clock, line_interval=10, desc="train")
    for _ in range(50):
        clock.t += 0.5  # 25 s in all
        bar.update(1)
    assert bar.elapsed == 25.0  # (the clock started at 100)
    bar.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert len(lines) == 3  # at 10 s, at 20 s, and the final line
    assert lines[0].startswith("train:  20%") and lines[-1].startswith("train:  50%|")


def test_wraps_an_iterable_and_closes_at_the_end():
    clock, out = Clock(), io.StringIO()
    items = list(Progress(range(7), file=out, clock=clock))
    assert items == list(range(7))
    assert out.getvalue().splitlines()[-1].startswith("100%|####################| 7/7")


def test_a_given_total_wins_over_the_iterable_length():
    assert Progress(range(10), total=4, file=io.StringIO(), clock=Clock()).total == 4


def test_generator_of_unknown_length():
    out = io.StringIO()
    assert sum(Progress((i for i in range(5)), file=out, clock=Clock(), unit="batch")) == 10
    assert out.getvalue().strip().startswith("5 batches [")


def test_disabled_writes_nothing():
    out = Terminal()
    with Progress(total=3, file=out, disable=True) as bar:
        bar.update(3)
        bar.set_postfix(loss=1.0)
    assert out.getvalue() == ""


def test_writes_to_stderr_by_default(capsys):
    with Progress(total=1, tty=False) as bar:
        bar.update()
    captured = capsys.readouterr()
    assert captured.out == "" and "1/1" in captured.err


def test_manual_bar_cannot_be_iterated_and_rejects_negative_totals():
    with pytest.raises(TypeError, match="update"):
        iter(Progress(total=3, disable=True)).__next__()
    with pytest.raises(ValueError, match="total"):
        Progress(total=-1)


def test_warmup_hides_rate_and_eta_until_it_is_over():
    clock = Clock()
    bar = Progress(total=100, file=io.StringIO(), clock=clock, warmup=2, unit="batch")
    assert str(bar).endswith("[00:00<?, ? batch/s]")
    clock.t += 100  # the first batch compiles the kernels
    bar.update(1)
    assert str(bar).endswith("[01:40<?, ? batch/s]")
    clock.t += 1
    bar.update(1)  # the warm-up ends here: the rate is measured from this moment
    assert str(bar).endswith("[01:41<?, ? batch/s]")


def test_warmup_leaves_the_slow_first_step_out_of_rate_and_eta():
    clock = Clock()
    warm = Progress(total=12, file=io.StringIO(), clock=clock, warmup=1)
    cold = Progress(total=12, file=io.StringIO(), clock=clock)  # no warm-up: the old behaviour
    for seconds in [100, 1, 1, 1]:  # the first step compiles the kernels
        clock.t += seconds
        warm.update(1)
        cold.update(1)
    # elapsed counts from the start; 3 steps in 3 s since the warm-up: 8 steps left, 8 s
    assert str(warm).endswith("4/12 [01:43<00:08, 1 it/s]")
    assert str(cold).endswith("4/12 [01:43<03:26, 0.0388 it/s]")


def test_warmup_of_several_steps_at_once_starts_where_it_is_passed():
    clock = Clock()
    bar = Progress(total=20, file=io.StringIO(), clock=clock, warmup=3)
    clock.t += 50
    bar.update(5)  # passes the warm-up: measured from n=5 at this moment
    clock.t += 2
    bar.update(5)
    assert str(bar).endswith("10/20 [00:52<00:04, 2.5 it/s]")


def test_negative_warmup_is_refused():
    with pytest.raises(ValueError, match="warmup"):
        Progress(total=3, warmup=-1, disable=True)
