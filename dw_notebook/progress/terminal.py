"""Progress outside a widget frontend: a throttled one-line display for terminals and scripts."""

from __future__ import annotations

import sys
import time
from typing import Any

from .snapshot import JobSnapshot
from .text import format_duration, format_progress, format_summary


def in_kernel() -> bool:
    """True inside a Jupyter kernel (where the widget shows progress instead of text)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


TTY_INTERVAL = 0.5  # a terminal line is redrawn in place
PIPE_INTERVAL = 10.0  # a log file or pipe gets a new line at most this often


class TextProgress:
    """A throttled one-line progress display: redrawn in place on a terminal, a new line at
    most every ``PIPE_INTERVAL`` seconds when written to a file or pipe; the summary always."""

    def __init__(self, stream: Any = None, min_interval: float | None = None) -> None:
        self.stream = stream or sys.stderr
        self._tty = getattr(self.stream, "isatty", lambda: False)()
        if min_interval is None:
            min_interval = TTY_INTERVAL if self._tty else PIPE_INTERVAL
        self.min_interval = min_interval
        self._last: float | None = None  # monotonic time of the last line; None: none yet

    def show(self, snapshot: JobSnapshot) -> None:
        now = time.monotonic()
        # time.monotonic() has no fixed origin (it may count from boot), so "never printed"
        # is None rather than 0.0
        if self._last is not None and now - self._last < self.min_interval:
            return
        self._last = now
        line = format_progress(snapshot)
        self.stream.write(("\r" + line.ljust(100)) if self._tty else line + "\n")
        self.stream.flush()

    def close(self, snapshot: JobSnapshot) -> None:
        self.stream.write(("\r" if self._tty else "") + format_summary(snapshot).ljust(100) + "\n")
        self.stream.flush()


class RowsProgress:
    """'reading rows: 1,200,000 / 5,000,000 · 12s' while a dataset is read and built in the
    submit call, before its job (and its widget) exists. Shown once reading has taken ``after``
    seconds: in a notebook as one output updated in place, elsewhere throttled as TextProgress
    writes; ``close`` leaves 'read 5,000,000 rows in 22s'."""

    def __init__(self, what: str = "reading rows", after: float = 1.0, stream: Any = None) -> None:
        self.what, self.after = what, after
        self._notebook = stream is None and in_kernel()
        self._stream = stream or sys.stderr
        self._tty = not self._notebook and getattr(self._stream, "isatty", lambda: False)()
        self._interval = TTY_INTERVAL if self._notebook or self._tty else PIPE_INTERVAL
        self._started = time.monotonic()
        self._last: float | None = None  # monotonic time of the last line; None: none yet
        self._handle: Any = None
        self._done = 0

    def update(self, done: int, total: int | None = None) -> None:
        self._done = done
        now = time.monotonic()
        if now - self._started < self.after:
            return
        if self._last is not None and now - self._last < self._interval:
            return
        self._last = now
        of = f" / {total:,}" if total else ""
        self._show(f"{self.what}: {done:,}{of} · {format_duration(now - self._started)}")

    def close(self) -> None:
        if self._last is None:
            return  # never shown: it was quick
        took = format_duration(time.monotonic() - self._started)
        self._show(f"read {self._done:,} rows in {took}", end=True)

    def _show(self, line: str, end: bool = False) -> None:
        if self._notebook:
            from IPython.display import display

            bundle = {"text/plain": line}
            if self._handle is None:
                self._handle = display(bundle, raw=True, display_id=True)
            else:
                self._handle.update(bundle, raw=True)
            return
        if self._tty:
            self._stream.write("\r" + line.ljust(100) + ("\n" if end else ""))
        else:
            self._stream.write(line + "\n")
        self._stream.flush()
