"""The progress bar, driven by a fake clock and written to fake streams."""

import io

import pytest

from shared.progress import Progress, format_interval, format_meter


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
    assert line == "42 batch [00:02, 21 batch/s]"


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
    long_len = len(out.getvalue().split("\r")[-1])
    bar.set_postfix()
    assert len(out.getvalue().split("\r")[-1]) == long_len


def test_non_terminal_prints_plain_lines_at_an_interval():
    clock, out = Clock(), io.StringIO()
    bar = Progress(total=100, file=out, clock=clock, line_interval=10, desc="train")
    for _ in range(50):
        clock.t += 0.5  # 25 s in all
        bar.update(1)
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


def test_generator_of_unknown_length():
    out = io.StringIO()
    assert sum(Progress((i for i in range(5)), file=out, clock=Clock(), unit="b")) == 10
    assert out.getvalue().strip().startswith("5 b [")


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
