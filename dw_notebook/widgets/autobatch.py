"""The status widget of an autobatch client: calls queued, batches in flight, answered, failed,
cost so far. One synced trait, ``stats`` (plain numbers and text), refreshed from a daemon thread
that reads the client's status while the widget is open.

Each output it is shown in also carries a static card of the same figures, refreshed when the
client closes and at most every ``record_every`` seconds, so a saved notebook shows them.

>>> w = AutoBatchWidget(read=lambda: {"queued": 3, "answered": 10})   # doctest: +SKIP
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import anywidget
import traitlets

from ..markup import no_math
from ..progress.text import format_cost, format_count
from . import _assets, _display
from .static import MUTED, card, escape


class AutoBatchWidget(anywidget.AnyWidget):
    """Live counters of one autobatch client; ``read()`` returns its status as a dict."""

    _esm = _assets.esm("autobatch")
    _css = _assets.css("autobatch")
    stats = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        read: Callable[[], dict[str, Any]],
        interval: float = 0.5,
        record_every: float = 10.0,
    ) -> None:
        super().__init__(stats=read())
        self._read = read
        self._interval = interval
        self._record_every = record_every
        self._recorded = -float("inf")
        self._slots = _display.Slots()
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
                now = time.monotonic()
                if stats.get("closed") or now - self._recorded >= self._record_every:
                    self._recorded = now
                    self._refresh_record()
            if stats.get("closed"):
                return

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict, dict] | None:
        """The widget, plus a static card and a text line of the figures."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        return {**data, "text/html": no_math(autobatch_html(self.stats)),
                "text/plain": autobatch_text(self.stats)}, metadata  # fmt: skip

    def _ipython_display_(self) -> None:
        data, metadata = self._repr_mimebundle_()
        self._slots.add(_display.show(data, metadata))
        self._recorded = time.monotonic()

    def _refresh_record(self) -> None:
        from IPython.display import update_display

        for display_id in self._slots:
            data, metadata = self._repr_mimebundle_() or ({}, {})
            update_display(data, metadata=metadata, raw=True, display_id=display_id)

    def close(self) -> None:
        self._stop.set()
        super().close()


def _figures(stats: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(value, label) pairs worded as the live widget words them (js/autobatch.js)."""

    def n(key: str) -> int:
        value = stats.get(key)
        return value if isinstance(value, int | float) else 0

    batches = n("in_flight_batches")
    cost = stats.get("cost_usd")
    return [
        (format_count(n("queued") + n("sending")), "queued"),
        (f"{format_count(batches)} batch{'' if batches == 1 else 'es'} "
         f"({format_count(n('in_flight_calls'))} calls)", "in flight"),
        (format_count(n("answered")), "answered"),
        (format_count(n("failed")), "failed"),
        (format_cost(cost) if isinstance(cost, int | float) else "unknown", "cost so far"),
    ]  # fmt: skip


def _title(stats: Mapping[str, Any]) -> str:
    closed = " · closed" if stats.get("closed") else ""
    return f"autobatch {stats.get('name') or ''} · {stats.get('window') or ''} window{closed}"


def autobatch_text(stats: Mapping[str, Any]) -> str:
    """'autobatch reviews · 24h window: 3 queued · 1 batch (10 calls) in flight · ...'."""
    figures = " · ".join(f"{value} {label}" for value, label in _figures(stats))
    error = f" · last error: {stats['last_error']}" if stats.get("last_error") else ""
    return f"{_title(stats)}: {figures}{error}"


def autobatch_html(stats: Mapping[str, Any]) -> str:
    """The static card of the figures (as they were when the output was last written)."""
    cells = "".join(
        f'<span><strong>{escape(value)}</strong> <span style="{MUTED}">{escape(label)}</span>'
        "</span>"
        for value, label in _figures(stats)
    )
    body = (
        f"<div><strong>{escape(_title(stats))}</strong></div>"
        f'<div style="display:flex;flex-wrap:wrap;gap:4px 20px">{cells}</div>'
    )
    if stats.get("last_error"):
        body += (
            '<div style="color:var(--jp-error-color1, #d32f2f)">'
            f"last error: {escape(stats['last_error'])}</div>"
        )
    return card(body, testid="dw-autobatch-static")
