"""A wall clock that tests can move forward, so expiry is testable without sleeping."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Clock:
    """Unix time plus an offset; ``advance`` moves it forward and wakes listeners.

    >>> c = Clock(); t = c.now(); c.advance(3600); c.now() - t >= 3600
    True
    """

    def __init__(self, offset: float = 0.0) -> None:
        self._offset = float(offset)
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> float:
        """Current time in Unix seconds (float)."""
        return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds``; returns the new ``now()``."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds
            listeners = list(self._listeners)
        for fn in listeners:
            fn()
        return self.now()

    @property
    def offset(self) -> float:
        """Seconds this clock is ahead of the wall clock."""
        return self._offset

    def on_advance(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` after every ``advance`` (the runner uses it to wake up)."""
        with self._lock:
            self._listeners.append(fn)

    def __repr__(self) -> str:
        return f"Clock(offset={self._offset:.0f}s)"
