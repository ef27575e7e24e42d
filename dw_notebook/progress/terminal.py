"""Progress outside a widget frontend: a throttled one-line display for terminals and scripts."""

from __future__ import annotations

import sys
import time
from typing import Any

from .snapshot import JobSnapshot
from .text import format_progress, format_summary


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
