"""The status widget of an autobatch client: calls queued, batches in flight, answered, failed,
cost so far. One synced trait, ``stats`` (plain numbers and text), refreshed from a daemon thread
that reads the client's status while the widget is open.

>>> w = AutoBatchWidget(read=lambda: {"queued": 3, "answered": 10})   # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

from . import _assets


class AutoBatchWidget(anywidget.AnyWidget):
    """Live counters of one autobatch client; ``read()`` returns its status as a dict."""

    _esm = _assets.esm("autobatch")
    _css = _assets.css("autobatch")
    stats = traitlets.Dict().tag(sync=True)

    def __init__(self, read: Callable[[], dict[str, Any]], interval: float = 0.5) -> None:
        super().__init__(stats=read())
        self._read = read
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="dw-autobatch-view", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                stats = self._read()
            except Exception:  # the client is gone: nothing more to show
                return
            if stats != self.stats:
                self.stats = stats
            if stats.get("closed"):
                return

    def close(self) -> None:
        self._stop.set()
        super().close()
