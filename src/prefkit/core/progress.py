"""Progress on stderr: a rich bar on a terminal, periodic plain lines in logs.

Long jobs are never silent: when stderr is not a terminal (a batch job, CI, ``2> log``), a line
``<what>: 1200/5000 texts (24%), 31s elapsed, ~1m39s left`` is written at most every
``PREFKIT_PROGRESS_INTERVAL`` seconds (default 30; the first one only after that long, so short
runs print nothing).  Results on stdout and ``--json`` output are never touched.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator

INTERVAL_ENV = "PREFKIT_PROGRESS_INTERVAL"


def stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _interval() -> float:
    try:
        return max(0.0, float(os.environ.get(INTERVAL_ENV, "30")))
    except ValueError:
        return 30.0


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class _PlainProgress:
    """Counts work and writes one line per interval to stderr."""

    def __init__(self, total: int, what: str, unit: str, interval: float,
                 status: Callable[[], str] | None = None) -> None:
        self.total, self.what, self.unit, self.interval = total, what, unit, interval
        self.status = status
        self.done = 0
        self.start = self.last = time.monotonic()

    def advance(self, k: int = 1) -> None:
        self.done += k
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            sys.stderr.write(self.line(now) + "\n")
            sys.stderr.flush()

    def line(self, now: float) -> str:
        elapsed = now - self.start
        text = f"{self.what}: {self.done}/{self.total} {self.unit}"
        if self.total > 0:
            text += f" ({100 * self.done / self.total:.0f}%)"
        text += f", {_duration(elapsed)} elapsed"
        if 0 < self.done < self.total:
            text += f", ~{_duration(elapsed * (self.total - self.done) / self.done)} left"
        if self.status is not None:
            text += f", {self.status()}"
        return text


@contextlib.contextmanager
def progress_bar(
    enabled: bool | None, total: int, what: str, unit: str = "items",
    status: Callable[[], str] | None = None,
) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(k)``; shows progress of ``total`` units of work.

    ``enabled``: True — a rich bar on a terminal, plain periodic lines otherwise; None — the same
    (automatic); False — nothing at all.  ``status``: a short text shown after the counts
    (e.g. failures, tokens, cost), read at every refresh.
    """
    if enabled is False:
        yield lambda _k: None
        return
    if not stderr_is_tty():
        plain = _PlainProgress(total, what, unit, _interval(), status)
        yield plain.advance
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn(f"[bold]{what}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    if status is not None:
        columns = (*columns, TextColumn("{task.fields[status]}"))
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(what, total=total, status=status() if status else "")
        if status is None:
            yield lambda k: bar.advance(task, k)
        else:
            yield lambda k: bar.update(task, advance=k, status=status())


@contextlib.contextmanager
def spinner(message: str) -> Iterator[None]:
    """A transient spinner on stderr while a step runs, only when stderr is a terminal."""
    if not stderr_is_tty():
        yield
        return
    from rich.console import Console
    from rich.live import Live
    from rich.spinner import Spinner

    with Live(
        Spinner("dots", text=message, style="status.spinner"),
        console=Console(stderr=True, highlight=False),
        transient=True,
        refresh_per_second=12.5,
        redirect_stdout=False,
        redirect_stderr=False,
    ):
        yield
