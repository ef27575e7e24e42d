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


class TextProgress:
    """A throttled one-line progress display for terminals."""

    def __init__(self, stream: Any = None, min_interval: float = 0.5) -> None:
        self.stream = stream or sys.stderr
        self.min_interval = min_interval
        self._last: float | None = None  # monotonic time of the last line; None: none yet
        self._tty = getattr(self.stream, "isatty", lambda: False)()

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
