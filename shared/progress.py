"""The project's own progress bar (the project uses no tqdm).

It wraps an iterable or is updated by hand, and shows a description, percentage, bar, n/total,
elapsed time, ETA, rate and live metrics (loss, accuracy) as a postfix. With `warmup=k` the rate and
ETA leave out the first k steps (on a GPU the first batch includes compiling kernels). On a
terminal it redraws one line in place, at most every `min_interval` seconds; on anything else (CI
logs, nox output, files) it prints plain lines at most every `line_interval` seconds, so logs stay
readable. It writes to stderr. It deliberately leaves out nested bars, notebooks and colour.

    for batch in Progress(batches, desc="epoch 1"):
        ...
    with Progress(total=n, desc="train", unit="img") as bar:
        bar.update(batch_size)
        bar.set_postfix(loss=0.31, acc=0.91)
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

__all__ = ["Progress", "format_interval", "format_meter"]


def format_interval(seconds: float) -> str:
    """`75.2` -> `01:15`; an hour or more -> `1:02:03`; unknown -> `?`."""
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "?"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h:d}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _format_count(n: float) -> str:
    return str(int(n)) if float(n).is_integer() else f"{n:.2f}"


#: Units whose plural breaks the rule in `_count_with_unit` ("epoch" ends in "ch" but says k).
_IRREGULAR_PLURALS = {"epoch": "epochs"}


def _count_with_unit(n: float, unit: str) -> str:
    """`1 batch`, `42 batches`, `0 epochs`: the English plural of the unit, for any count but 1."""
    if n == 1:
        return f"1 {unit}"
    plural = _IRREGULAR_PLURALS.get(unit) or unit + (
        "es" if unit.endswith(("s", "x", "z", "ch", "sh")) else "s"
    )
    return f"{_format_count(n)} {plural}"


def format_meter(
    n: float,
    total: float | None,
    elapsed: float,
    *,
    desc: str = "",
    unit: str = "it",
    postfix: dict[str, Any] | None = None,
    bar_width: int = 20,
    fill: str = "#",
    rate_n: float | None = None,
    rate_elapsed: float | None = None,
) -> str:
    """One line of progress: `desc: 42%|########            | 42/100 [00:03<00:04, 12.3 it/s, loss=0.1]`.

    With `total=None` (unknown length) the percentage, bar and ETA are left out. The rate (and
    from it the ETA) is `rate_n` steps over `rate_elapsed` seconds, by default `n` over `elapsed`;
    a bar with a warm-up passes the steps and seconds since it ended. No seconds yet shows `?`.
    """
    rate_n = n if rate_n is None else rate_n
    rate_elapsed = elapsed if rate_elapsed is None else rate_elapsed
    rate = rate_n / rate_elapsed if rate_elapsed > 0 else None
    rate_s = f"{rate:.3g} {unit}/s" if rate else f"? {unit}/s"
    extras = [rate_s] + [f"{k}={_format_value(v)}" for k, v in (postfix or {}).items()]
    prefix = f"{desc}: " if desc else ""
    if total is None:
        return (
            f"{prefix}{_count_with_unit(n, unit)} [{format_interval(elapsed)}, {', '.join(extras)}]"
        )
    frac = min(max(n / total, 0.0), 1.0) if total > 0 else 1.0
    filled = int(frac * bar_width)
    bar = fill * filled + " " * (bar_width - filled)
    eta = 0.0 if n >= total else (total - n) / rate if rate else None
    times = f"{format_interval(elapsed)}<{format_interval(eta)}"
    return (
        f"{prefix}{frac * 100:3.0f}%|{bar}| {_format_count(n)}/{_format_count(total)} "
        f"[{times}, {', '.join(extras)}]"
    )


class Progress:
    """A progress bar over an iterable, or updated by hand with `update(n)`.

    Parameters
    ----------
    iterable: what to iterate over; `total` defaults to `len(iterable)` when it has one.
    total: the number of steps, or None when unknown.
    desc, unit: the label before the bar and the unit of the rate.
    file: where to write (default `sys.stderr`).
    disable: write nothing at all.
    min_interval: on a terminal, the least time between redraws (seconds).
    line_interval: elsewhere, the least time between printed lines (seconds).
    clock: a `time.monotonic`-like function (tests pass a fake one).
    tty: force terminal (True) or plain-line (False) mode; default: `file.isatty()`.
    warmup: the number of first steps the rate and ETA leave out, because they are slower than the
        rest (the first batch on a GPU includes compiling kernels: an ETA of hours after it is
        nonsense). The clock and `n` are recorded when `n` first reaches `warmup`; the rate is the
        steps since then over the seconds since then, and until then the rate and ETA show `?`.
        The elapsed time still counts from the start. Default 0: rate and ETA from the start.
    """

    def __init__(
        self,
        iterable: Iterable[Any] | None = None,
        total: float | None = None,
        *,
        desc: str = "",
        unit: str = "it",
        file: IO[str] | None = None,
        disable: bool = False,
        min_interval: float = 0.1,
        line_interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        tty: bool | None = None,
        warmup: int = 0,
    ) -> None:
        if total is None and iterable is not None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except TypeError:
                total = None
        if total is not None and total < 0:
            raise ValueError(f"total must be >= 0 or None, got {total}")
        if warmup < 0:
            raise ValueError(f"warmup must be >= 0 steps, got {warmup}")
        self.iterable = iterable
        self.total = total
        self.desc = desc
        self.unit = unit
        self.file = file if file is not None else sys.stderr
        self.disable = disable
        self.clock = clock
        if tty is None:
            isatty = getattr(self.file, "isatty", None)
            tty = bool(isatty and isatty())
        self.tty = tty
        self.interval = min_interval if tty else line_interval
        encoding = (getattr(self.file, "encoding", None) or "").lower()
        self.fill = "█" if tty and encoding.replace("-", "") == "utf8" else "#"
        self.n: float = 0
        self.postfix: dict[str, Any] = {}
        self.start = clock()
        self.warmup = warmup
        # (clock, n) when n first reached `warmup`: where the rate is measured from.
        self._warm: tuple[float, float] | None = (self.start, 0) if warmup == 0 else None
        self._last_draw: float | None = None
        self._last_len = 0
        self._closed = False
        if tty:
            self._draw(force=True)  # show the empty bar at once
        else:
            self._last_draw = self.start  # a log gets its first line after one interval

    # -- iteration and manual updates -------------------------------------------------------
    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise TypeError("this Progress wraps no iterable: call update() instead")
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def update(self, n: float = 1) -> None:
        """Advance by `n` steps and redraw if the interval has passed."""
        self.n += n
        if self._warm is None and self.n >= self.warmup:
            self._warm = (self.clock(), self.n)
        self._draw()

    def set_postfix(self, **metrics: Any) -> None:
        """Replace the live metrics shown after the rate (e.g. `loss=0.31, acc=0.9`)."""
        self.postfix = dict(metrics)
        self._draw()

    def set_description(self, desc: str) -> None:
        self.desc = desc
        self._draw()

    def close(self) -> None:
        """Draw the final state and end the line. Safe to call twice."""
        if self._closed:
            return
        self._draw(force=True)
        if not self.disable and self.tty:
            self.file.write("\n")
            self.file.flush()
        self._closed = True

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- drawing ----------------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        return self.clock() - self.start

    def __str__(self) -> str:
        now = self.clock()
        # Before the warm-up is over there is no rate: no steps over no seconds shows `?`.
        t_warm, n_warm = self._warm if self._warm is not None else (now, self.n)
        return format_meter(
            self.n,
            self.total,
            now - self.start,
            desc=self.desc,
            unit=self.unit,
            postfix=self.postfix,
            fill=self.fill,
            rate_n=self.n - n_warm,
            rate_elapsed=now - t_warm,
        )

    def _draw(self, force: bool = False) -> None:
        if self.disable or self._closed:
            return
        now = self.clock()
        finished = self.total is not None and self.n >= self.total
        due = self._last_draw is None or now - self._last_draw >= self.interval
        # The terminal line shows completion at once; plain logs get the final line from close().
        if not (force or due or (finished and self.tty)):
            return
        self._last_draw = now
        line = str(self)
        if self.tty:
            # Pad with spaces so a shorter line fully covers the previous one.
            pad = " " * max(self._last_len - len(line), 0)
            self.file.write("\r" + line + pad)
            self._last_len = len(line)
        else:
            self.file.write(line + "\n")
        self.file.flush()


class ClosedPipeSafe:
    """A text stream that, once its reader has gone (`python -m ... | head -1`), drops what is
    written instead of raising BrokenPipeError in the middle of the work: a closed pipe ends
    the printing, not the run. The stream's descriptor is then pointed at the null device, so
    the interpreter's last flush has nowhere to fail either (the recipe of Python's signal docs,
    "Note on SIGPIPE")."""

    def __init__(self, stream):
        self.stream, self.closed_pipe = stream, False

    def write(self, text: str) -> int:
        if not self.closed_pipe:
            try:
                return self.stream.write(text)
            except BrokenPipeError:
                self._drop()
        return len(text)

    def flush(self) -> None:
        if not self.closed_pipe:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._drop()

    def _drop(self) -> None:
        self.closed_pipe = True
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), self.stream.fileno())

    def __getattr__(self, name: str):
        return getattr(self.stream, name)
