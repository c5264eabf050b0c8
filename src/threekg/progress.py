"""Progress of every step: a redrawn bar on a terminal, plain lines anywhere else.

On a terminal, progress is tqdm's bar. Under SLURM, nohup or CI the output goes to a file, where a
redrawn bar becomes thousands of carriage-return updates (84 KB for synth + prepare + a 400-step
pretrain + a small evaluate). There :class:`LineProgress` prints one plain line about every 10% of
the work, or every 30 s when the work is slow, and one when it ends::

    prepare: 250/500 rec (50%), 312 rec/s, elapsed 1s, about 1s left
    prepare: 500/500 rec in 2s, 305 rec/s

Every step takes its progress from here: :func:`progress_bar` / :func:`track` for loops (synth,
prepare, download, evaluate), :func:`use_bars` for Lightning's bar (``threekg.train.callbacks``).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO, TypeVar

T = TypeVar("T")

EVERY_FRACTION = 0.1
"""A line each time this fraction of the work has been done since the previous line ..."""
EVERY_SECONDS = 30.0
"""... or each time this many seconds have passed since it, whichever comes first ..."""
MIN_SECONDS = 2.0
"""... but never two progress lines within this many seconds (a 1 s loop prints its last line only)."""


def format_seconds(seconds: float) -> str:
    """``42s``, ``3m07s``, ``2h05m``."""
    total = max(0, round(seconds))
    if total < 60:
        return f"{total}s"
    minutes, sec = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _in_notebook() -> bool:
    """True in a Jupyter kernel, where tqdm draws a widget (its stderr is not a TTY but bars work)."""
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    return get is not None and type(get()).__name__ == "ZMQInteractiveShell"


def use_bars(stream: TextIO | None = None) -> bool:
    """True when ``stream`` (default ``sys.stderr``) is a terminal or a notebook: draw bars there."""
    stream = sys.stderr if stream is None else stream
    try:
        tty = bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        tty = False
    return tty or _in_notebook()


class LineProgress:
    """A tqdm-compatible progress report that prints plain lines (see the module docstring).

    It supports what threekg's steps use of tqdm: ``update``, ``total`` (may grow), ``n``,
    ``set_postfix_str``, ``refresh``, ``close``, iteration and ``with``. ``postfix`` may also be a
    callable, evaluated only when a line is printed (Lightning's loss is a tensor: reading it costs
    a device sync).

    Args:
        total: units of work, or None when unknown (then a line every ``every_seconds`` only).
        desc: names the step in every line (``"prepare"``, ``"synth -> DIR"``).
        unit: the unit of ``total`` (``"rec"``, ``"step"``, ``"B"``).
        initial: work already done before this run (a resumed job); rates count only this run's.
        unit_scale: print counts as 1.2k, 3.4M (with ``unit_divisor``; 1024 for bytes).
        stream: where lines go (default ``sys.stderr``).
        clock: seconds since an arbitrary origin (tests pass a fake one).
    """

    def __init__(
        self,
        total: float | None = None,
        desc: str = "",
        unit: str = "it",
        initial: float = 0,
        unit_scale: bool = False,
        unit_divisor: int = 1000,
        stream: TextIO | None = None,
        postfix: str | Callable[[], str] = "",
        every_fraction: float = EVERY_FRACTION,
        every_seconds: float = EVERY_SECONDS,
        min_seconds: float = MIN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        iterable: Iterable[Any] | None = None,
    ) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.n = self.initial = initial
        self.unit_scale, self.unit_divisor = unit_scale, unit_divisor
        self.stream = stream
        self.postfix = postfix
        self.every_fraction, self.every_seconds, self.min_seconds = every_fraction, every_seconds, min_seconds
        self.clock = clock
        self.iterable = iterable
        self.start = self._last_time = clock()
        self._last_n = initial
        self.closed = False
        self.lines = 0
        self._lock = threading.Lock()

    # -- tqdm's interface ---------------------------------------------------------------------------
    def update(self, n: float = 1) -> None:
        """Add ``n`` units of work; prints a line when one is due."""
        self.update_to(self.n + n)

    def update_to(self, n: float) -> None:
        """Set the work done so far to ``n``; prints a line when one is due."""
        with self._lock:
            self.n = n
            now = self.clock()
            if not self.closed and self._due(now):
                self._print(self._progress_line(now))
                self._last_time, self._last_n = now, n

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s

    def refresh(self) -> None:
        """Nothing to redraw: lines are printed when due."""

    def close(self) -> None:
        """Print the final line (once)."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self._print(self._final_line(self.clock()))

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise TypeError("LineProgress was not given an iterable")
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    # -- when and what ------------------------------------------------------------------------------
    def _due(self, now: float) -> bool:
        since = now - self._last_time
        if since >= self.every_seconds:
            return True
        if not self.total or since < self.min_seconds:
            return False
        return (self.n - self._last_n) >= self.every_fraction * self.total and self.n < self.total

    def _count(self, n: float) -> str:
        if self.unit_scale:
            from tqdm import tqdm

            return tqdm.format_sizeof(n, divisor=self.unit_divisor)
        return f"{n:,.0f}" if float(n).is_integer() else f"{n:,.1f}"

    def _rate(self, now: float) -> float | None:
        elapsed = now - self.start
        done = self.n - self.initial
        return done / elapsed if elapsed > 0 and done > 0 else None

    def _rate_text(self, rate: float | None) -> str:
        if rate is None:
            return f"? {self.unit}/s"
        if rate < 1:
            return f"{1 / rate:.1f} s/{self.unit}"
        return f"{self._count(rate) if self.unit_scale else format(rate, ',.3g')} {self.unit}/s"

    def _postfix(self) -> str:
        text = self.postfix() if callable(self.postfix) else self.postfix
        return f", {text}" if text else ""

    def _head(self) -> str:
        done = self._count(self.n)
        if self.total:
            return f"{self.desc}: {done}/{self._count(self.total)} {self.unit}"
        return f"{self.desc}: {done} {self.unit}"

    def _progress_line(self, now: float) -> str:
        rate = self._rate(now)
        pct = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        left = ""
        if self.total and rate:
            left = f", about {format_seconds((self.total - self.n) / rate)} left"
        return (f"{self._head()}{pct}, {self._rate_text(rate)}, elapsed {format_seconds(now - self.start)}"
                f"{left}{self._postfix()}")

    def _final_line(self, now: float) -> str:
        return (f"{self._head()} in {format_seconds(now - self.start)}, {self._rate_text(self._rate(now))}"
                f"{self._postfix()}")

    def _print(self, line: str) -> None:
        stream = sys.stderr if self.stream is None else self.stream
        print(line, file=stream, flush=True)
        self.lines += 1


def progress_bar(
    total: float | None = None,
    desc: str = "",
    unit: str = "it",
    initial: float = 0,
    disable: bool = False,
    leave: bool = True,
    unit_scale: bool = False,
    unit_divisor: int = 1000,
    stream: TextIO | None = None,
    iterable: Iterable[Any] | None = None,
) -> Any:
    """A tqdm bar when ``stream`` (default stderr) is a terminal, else a :class:`LineProgress`.

    Both have ``update``, ``total``, ``set_postfix_str``, ``close`` and work with ``with``; with
    ``disable`` nothing is printed at all.
    """
    if disable or use_bars(stream):
        from tqdm.auto import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, disable=disable, leave=leave,
                    unit_scale=unit_scale, unit_divisor=unit_divisor, file=stream, dynamic_ncols=True)
    return LineProgress(total, desc, unit, initial, unit_scale, unit_divisor, stream, iterable=iterable)


def track(
    iterable: Iterable[T], desc: str = "", total: float | None = None, unit: str = "it", disable: bool = False,
    leave: bool = True, stream: TextIO | None = None,
) -> Iterator[T]:
    """Iterate over ``iterable`` with progress (a bar on a terminal, lines elsewhere)."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    return iter(progress_bar(total, desc, unit, disable=disable, leave=leave, stream=stream, iterable=iterable))
