"""The jobs dashboard: one row per job with its status and progress, a status filter, actions.

Rows are plain dicts (see :data:`ROW_FIELDS`); the widget gets them from ``load()`` (called on
refresh, and periodically with :meth:`JobsWidget.start_auto_refresh`) or from
:meth:`JobsWidget.set_jobs`. "Attach", "cancel", "proceed" (a pilot waiting for its rest) and
"collect" (an autobatch client's answers) clicks call ``on_attach(batch_id)``,
``on_cancel(batch_id)``, ``on_proceed(batch_id)`` and ``on_collect(batch_id)``; what
``on_attach`` returns (a job, a widget) is shown right below the dashboard, what ``on_collect``
returns (a line of text) in the dashboard.

>>> dash = JobsWidget(load=registry_rows, on_attach=dw.attach, on_cancel=cancel)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import anywidget
import traitlets

from .. import wire
from ..markup import no_math
from ..progress.pilot import WAITING
from ..progress.text import format_counts, phase_label
from . import _assets, _display
from .static import card, flex_rows

log = logging.getLogger(__name__)

# id (a batch id: what attach and cancel get) and status are required; created_at is epoch
# seconds; source: "local"/"server"; total/completed/failed None when unknown; where: why the
# service cannot show the batches ("on another local server", ...); batches: one dict per batch;
# pilot: "" (none), "waiting" (for proceed) or "proceeded"; collectable: an autobatch client's.
ROW_FIELDS = ("id", "name", "status", "total", "completed", "failed", "created_at", "model",
              "source", "job_id", "attempts", "where", "cancellable", "batches", "duration_s",
              "cost", "cost_note", "pilot", "collectable")  # fmt: skip
ACTIONS = ("attach", "cancel", "proceed", "collect")

_INT_FIELDS = ("total", "completed", "failed")


def normalise_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """JSON-safe rows with every field present, newest first, one row per batch id."""
    seen: dict[str, dict[str, Any]] = {}
    for raw in rows:
        if not raw.get("id"):
            continue
        row = {key: raw.get(key) for key in ROW_FIELDS}
        row["id"] = str(row["id"])
        row["name"] = str(row["name"] or "")
        row["status"] = str(row["status"] or "")
        row["model"] = str(row["model"] or "")
        row["source"] = str(row["source"] or "")
        for key in _INT_FIELDS:
            row[key] = None if row[key] is None else int(row[key])
        row["job_id"] = str(row["job_id"] or "")
        row["attempts"] = int(row["attempts"] or 1)
        row["where"] = str(row["where"] or "")
        if row["cancellable"] is None:
            row["cancellable"] = row["status"] in wire.CANCELLABLE
        row["cancellable"] = bool(row["cancellable"])
        row["batches"] = [dict(b) for b in row["batches"] or []]
        row["duration_s"] = _float(row["duration_s"])
        row["cost"] = _float(row["cost"])
        row["cost_note"] = str(row["cost_note"] or "")
        row["pilot"] = str(row["pilot"] or "")
        row["collectable"] = bool(row["collectable"])
        created = row["created_at"]
        row["created_at"] = float(created) if isinstance(created, int | float) else None
        seen[row["id"]] = row
    return sorted(seen.values(), key=lambda r: -(r["created_at"] or 0.0))


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


class JobsWidget(anywidget.AnyWidget):
    """A table of batches with status filter, refresh, attach and cancel."""

    _esm = _assets.esm("jobs")
    _css = _assets.css("jobs")

    jobs = traitlets.List(traitlets.Dict()).tag(sync=True)
    status_filter = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        jobs: Iterable[Mapping[str, Any]] = (),
        *,
        load: Callable[[], Iterable[Mapping[str, Any]]] | None = None,
        on_attach: Callable[[str], Any] | None = None,
        on_cancel: Callable[[str], Any] | None = None,
        on_proceed: Callable[[str], Any] | None = None,
        on_collect: Callable[[str], str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._load = load
        self._handlers = {"attach": on_attach, "cancel": on_cancel, "proceed": on_proceed,
                          "collect": on_collect}  # fmt: skip
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._detail_slots: list[str] = []
        self._slots = _display.Slots()  # outputs showing the dashboard
        self._recorded: list[tuple[str, str]] = []  # (id, status) of the rows last recorded
        self.on_msg(self._on_frontend_msg)
        if jobs:
            self.set_jobs(jobs)
        elif load is not None:
            self.refresh()

    def set_jobs(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Replace the rows (thread-safe)."""
        rows = normalise_rows(rows)
        with self._lock, self.hold_sync():
            self.jobs = rows
        self._refresh_record()

    def _refresh_record(self) -> None:
        """Re-send the outputs' bundle (so their static table) when a job started or changed
        status: a saved notebook shows the dashboard as it last was, not as first displayed.
        Counts alone do not re-send it (that would redraw the dashboard every refresh)."""
        statuses = [(row["id"], row["status"]) for row in self.jobs]
        if statuses == self._recorded or not self._slots:
            return
        from IPython.display import update_display

        self._recorded = statuses
        data, metadata = self._repr_mimebundle_() or ({}, {})
        for display_id in self._slots:
            update_display(data, metadata=metadata, raw=True, display_id=display_id)

    def refresh(self) -> None:
        """Reload the rows from ``load``; a failing load is reported in the widget."""
        if self._load is None:
            return
        try:
            rows = list(self._load())
        except Exception as exc:
            log.exception("loading jobs failed")
            self.send({"type": "error", "text": f"could not list batches: {exc}"})
            return
        self.set_jobs(rows)

    def start_auto_refresh(self, interval: float = 2.0) -> None:
        """Refresh every ``interval`` seconds on a daemon thread until :meth:`stop_auto_refresh`."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval):
                self.refresh()

        self._thread = threading.Thread(target=loop, name="dw-jobs-refresh", daemon=True)
        self._thread.start()

    def stop_auto_refresh(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def close(self) -> None:
        self.stop_auto_refresh()
        super().close()

    # -- actions ---------------------------------------------------------------------------------

    def _on_frontend_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        kind, batch_id = content.get("type"), content.get("id")
        if kind == "refresh":
            self.refresh()
        elif kind in ACTIONS and isinstance(batch_id, str) and batch_id:
            self.act(kind, batch_id)

    def act(self, action: str, batch_id: str) -> Any:
        """Run ``attach``, ``cancel``, ``proceed`` or ``collect`` on ``batch_id`` as a click
        would; errors are shown in the dashboard."""
        handler = self._handlers.get(action)
        if handler is None:
            self.send({"type": "error", "id": batch_id, "text": f"{action} is not available here"})
            return None
        try:
            result = handler(batch_id)
        except Exception as exc:
            log.exception("%s %s failed", action, batch_id)
            self.send({"type": "error", "id": batch_id, "text": f"{action} failed: {exc}"})
            return None
        if action == "attach" and result is not None:
            for slot in self._detail_slots:
                _display.replace(slot, result)
        done = {"type": "done", "id": batch_id, "action": action}
        if action == "collect":
            done["text"] = str(result)
        self.send(done)
        self.refresh()
        return result

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict, dict] | None:
        """The widget, plus a static table of the jobs for notebooks saved without its state."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        return {**data, "text/html": no_math(jobs_html(self.jobs))}, metadata

    def _ipython_display_(self) -> None:
        """The dashboard, and below it an empty output where attached jobs are shown."""
        data, metadata = self._repr_mimebundle_()
        self._slots.add(_display.show(data, metadata))
        self._recorded = [(row["id"], row["status"]) for row in self.jobs]
        self._detail_slots.append(_display.show({"text/plain": ""}))

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for row in self.jobs:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        detail = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in sorted(counts.items()))
        return f"<dw jobs: {len(self.jobs)} jobs{': ' + detail if detail else ''}>"


def status_label(row: Mapping[str, Any]) -> str:
    """'in progress'; 'pilot done, waiting for proceed' for a pilot whose rest waits."""
    return WAITING if row.get("pilot") == "waiting" else phase_label(row["status"])


def jobs_html(rows: Iterable[Mapping[str, Any]]) -> str:
    """A static table of the dashboard rows (as they were when the output was last written)."""
    lines = []
    for row in rows:
        counts = (
            "unknown"
            if row.get("completed") is None or row.get("total") is None
            else format_counts(row["completed"], row.get("failed") or 0, row["total"])
        )
        note = f" ({row['where']})" if row.get("where") else ""
        attempts = f" · {row['attempts']} attempts" if (row.get("attempts") or 1) > 1 else ""
        lines.append(
            (f"{row['name'] or row['id']}{attempts}", f"{status_label(row)}{note}", counts)
        )
    table = flex_rows(lines, ("0 1 18rem", "0 1 14rem", "1 1 10rem")) if lines else ""
    return card(
        f"<div><strong>Jobs</strong></div>{table or 'No jobs yet.'}", testid="dw-jobs-static"
    )
