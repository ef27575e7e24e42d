"""The live progress widget of a job: one synced trait, ``snapshot`` (with ``record``, its
static form for a notebook saved mid-run), and three commands.

The job's poller thread calls :meth:`ProgressWidget.update` with each
:class:`~dw_notebook.progress.snapshot.JobSnapshot`; the widget sends at most a few messages
per second (the newest snapshot wins, a trailing send makes sure it arrives) and always sends
the final one.
Button clicks arrive as ``{"type": "cancel"}`` / ``{"type": "refresh"}`` messages, and a pilot's
Proceed as ``{"type": "proceed", "window": "24h"}`` with the fix the user chose for what the pilot
found (``"max_tokens": 64``, ``"schema_hint": true``) or ``"send_unchanged": true``; they are
handed to the callbacks registered with :meth:`ProgressWidget.on_command`.

Every place the widget is displayed also carries static HTML and a text line of the job's state
(refreshed by display-id updates when the phase changes and every ``static_every`` seconds);
when the job ends those places are left with the static HTML and summary only, so a saved
notebook shows something true without a kernel. A pilot waiting for proceed has not ended: its
widget stays live for the Proceed button.

>>> w = ProgressWidget()                                 # doctest: +SKIP
>>> w.on_command(lambda command: print(command))         # doctest: +SKIP
>>> w.update(job.snapshot())                             # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

from ..markup import no_math
from ..progress.pilot import waiting
from ..progress.snapshot import JobSnapshot
from ..progress.text import format_progress, format_summary
from . import _assets, _display
from .pilot_static import job_html

log = logging.getLogger(__name__)

COMMANDS = ("cancel", "refresh", "proceed")
WINDOWS = ("1h", "24h")  # the windows a Proceed may name


class Header:
    """A static record shown above the progress in one output (e.g. a submitted builder's
    summary): ``html`` and ``text`` for saved notebooks, ``widget`` for the live view."""

    def __init__(self, html: str, text: str) -> None:
        self.html = html
        self.text = text
        self._box: Any = None

    def box(self, progress: Any) -> Any:
        if self._box is None:
            import ipywidgets

            self._box = ipywidgets.VBox([ipywidgets.HTML(no_math(self.html)), progress])
        return self._box


Scheduler = Callable[[float, Callable[[], None]], Any]


def thread_updates_broken() -> bool:
    """ipykernel 7.0.x dropped widget updates sent from threads (fixed in 7.1)."""
    try:
        from importlib.metadata import version

        return version("ipykernel").startswith("7.0.")
    except Exception:
        return False


def _timer(delay: float, fn: Callable[[], None]) -> threading.Timer:
    timer = threading.Timer(delay, fn)
    timer.daemon = True
    timer.start()
    return timer


class ProgressWidget(anywidget.AnyWidget):
    """Live progress of one job, fed with snapshots; reports cancel/refresh clicks."""

    _esm = _assets.esm("progress")
    _css = _assets.css("progress")

    snapshot = traitlets.Dict().tag(sync=True)
    # {view model id: {"text/html", "text/plain"}}: the static record of each view of a running
    # job, sent with each snapshot, so the page writes a record as fresh as what it shows into
    # a notebook saved mid-run (js/lib/record.js); empty once the job has ended
    record = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        snapshot: JobSnapshot | None = None,
        *,
        min_interval: float = 0.25,
        static_at_end: bool = True,
        static_every: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        schedule: Scheduler = _timer,
        **kwargs: Any,
    ) -> None:
        """``min_interval`` seconds between sends (0.25 = 4 messages/s); ``clock`` and
        ``schedule(delay, fn)`` are injectable so tests move time instead of sleeping."""
        super().__init__(**kwargs)
        self._min_interval = min_interval
        self._static_at_end = static_at_end
        self._static_every = static_every
        self._static_refreshed: tuple[float, str] = (-float("inf"), "")  # (when, phase)
        self._clock = clock
        self._schedule = schedule
        self._lock = threading.RLock()
        self._latest: JobSnapshot | None = None
        self._pending: JobSnapshot | None = None
        self._flush_scheduled = False
        self._last_sent = -float("inf")
        self._handlers: list[Callable[[str], None]] = []
        self._slots = _display.Slots()  # outputs showing the live widget
        self._static_slots = _display.Slots()  # outputs already showing the static end state
        self._headers: dict[str, Header] = {}  # display id -> what is shown above the progress
        self._finished = False
        self.sent_count = 0  # snapshots actually sent to the front end (for tests and benches)
        self.on_msg(self._on_frontend_msg)
        if snapshot is not None:
            self.update(snapshot)

    # -- kernel -> page ------------------------------------------------------------------------

    def update(self, snap: JobSnapshot) -> bool:
        """Show ``snap``; thread-safe. Returns whether it was sent now (else it is queued).

        Sends at once when ``min_interval`` has passed since the last send or when the job is
        done; otherwise keeps the newest snapshot and sends it when the interval is over.
        """
        with self._lock:
            self._latest = snap
            now = self._clock()
            wait = self._last_sent + self._min_interval - now
            if snap.done or wait <= 0:
                self._pending = None
                self._send_snapshot(snap, now)
                return True
            self._pending = snap
            if not self._flush_scheduled:
                self._flush_scheduled = True
                self._schedule(wait, self.flush)
            return False

    def flush(self) -> None:
        """Send the queued snapshot, if any (called by the trailing timer)."""
        with self._lock:
            self._flush_scheduled = False
            snap, self._pending = self._pending, None
            if snap is not None:
                self._send_snapshot(snap, self._clock())

    def _send_snapshot(self, snap: JobSnapshot, now: float) -> None:
        self._last_sent = now
        # a retry or a pilot's proceed can bring a finished job back to life
        finished = snap.done and not waiting(snap.pilot)
        with self.hold_sync():
            self.snapshot = snap.to_dict()
            self.record = {} if finished else self._records(snap)
        self.sent_count += 1
        self._finished = finished
        if self._finished:
            # a later done snapshot (e.g. with the actual cost) refreshes the static outputs
            self._leave_static(snap)
        else:
            self._refresh_static(snap, now)

    @property
    def latest(self) -> JobSnapshot | None:
        """The newest snapshot given to :meth:`update` (sent or still queued)."""
        return self._latest

    # -- page -> kernel ------------------------------------------------------------------------

    def on_command(self, callback: Callable[..., None]) -> None:
        """Call ``callback("cancel")``, ``callback("refresh")`` or
        ``callback("proceed", window="24h", max_tokens=64)`` when a button is used.

        Messages are handled on the kernel's main thread when it is idle. A callback that
        raises does not break the widget: the error is logged and shown in the widget.
        """
        self._handlers.append(callback)

    def _on_frontend_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        command = content.get("type") if isinstance(content, dict) else None
        if command not in COMMANDS:
            log.debug("ignored widget message %r", content)
            return
        options = {}
        if command == "proceed":
            window = content.get("window")
            if window not in WINDOWS:
                self.send({"type": "error", "text": f"proceed needs a window of {WINDOWS}"})
                return
            options["window"] = window
            max_tokens = content.get("max_tokens")
            if max_tokens is not None:
                if type(max_tokens) is not int or max_tokens < 1:
                    self.send({"type": "error", "text": "max_tokens must be a positive integer"})
                    return
                options["max_tokens"] = max_tokens
            for flag in ("schema_hint", "send_unchanged"):
                if content.get(flag) is True:
                    options[flag] = True
        for handler in list(self._handlers):
            try:
                handler(command, **options)
            except Exception as exc:  # a failing command must not kill the comm handler
                log.exception("%s command failed", command)
                self.send({"type": "error", "text": f"{command} failed: {exc}"})

    # -- display -------------------------------------------------------------------------------

    def _ipython_display_(self) -> None:
        """Display the widget under a display id so the end state can replace it."""
        with self._lock:
            if self._finished and self._static_at_end and self._latest is not None:
                self._static_slots.add(_display.show(self._static_bundle(self._latest)))
                return
        data, metadata = self._repr_mimebundle_()
        self._slots.add(_display.show(data, metadata))
        self._static_refreshed = (self._clock(), self._latest.phase if self._latest else "")

    def adopt_display(self, display_id: str, header: Header | None = None) -> None:
        """Show this widget in the existing output ``display_id`` (e.g. a submitted form's),
        below ``header`` when given."""
        from IPython.display import update_display

        with self._lock:
            if header is not None:
                self._headers[display_id] = header
            if self._finished and self._static_at_end and self._latest is not None:
                self._static_slots.add(display_id)
                update_display(self._static_bundle(self._latest, display_id), raw=True,
                               display_id=display_id)  # fmt: skip
                return
            self._slots.add(display_id)
            if header is not None and self._latest is not None:
                self.record = self._records(self._latest)  # the box is a view of its own
            data, metadata = self._live_bundle(display_id)
            update_display(data, metadata=metadata, raw=True, display_id=display_id)

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict, dict] | None:
        """The widget view, plus static HTML and a text line of the latest state: what a
        notebook shows where the widget cannot be rendered (saved without widget state)."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        if self._latest is not None:
            data = {**data, "text/html": no_math(job_html(self._latest)),
                    "text/plain": format_progress(self._latest)}  # fmt: skip
        return data, metadata

    def _records(self, snap: JobSnapshot) -> dict[str, dict[str, str]]:
        """The static record of every view of this widget: its own and each header's box."""
        html, text = job_html(snap), format_progress(snap)
        records = {self.model_id: {"text/html": no_math(html), "text/plain": text}}
        for header in self._headers.values():
            boxed = {
                "text/html": no_math(header.html + html),
                "text/plain": f"{header.text}\n{text}",
            }
            records[header.box(self).model_id] = boxed
        return records

    def _refresh_static(self, snap: JobSnapshot, now: float) -> None:
        """Re-send the bundle of every live output when the phase changed or a while passed."""
        when, phase = self._static_refreshed
        if not self._slots or (phase == snap.phase and now - when < self._static_every):
            return
        from IPython.display import update_display

        self._static_refreshed = (now, snap.phase)
        for display_id in self._slots:
            data, metadata = self._live_bundle(display_id)
            update_display(data, metadata=metadata, raw=True, display_id=display_id)

    def _live_bundle(self, display_id: str) -> tuple[dict, dict]:
        """The live widget of one output (boxed under its header), with its static forms."""
        header = self._headers.get(display_id)
        if header is None:
            return self._repr_mimebundle_() or ({}, {})
        data = dict(header.box(self)._repr_mimebundle_())
        if self._latest is not None:
            data["text/html"] = no_math(header.html + job_html(self._latest))
            data["text/plain"] = f"{header.text}\n{format_progress(self._latest)}"
        return data, {}

    def _static_bundle(self, snap: JobSnapshot, display_id: str | None = None) -> dict[str, str]:
        header = self._headers.get(display_id) if display_id else None
        if header is None:
            return {"text/html": no_math(job_html(snap)), "text/plain": format_summary(snap)}
        return {"text/html": no_math(header.html + job_html(snap)),
                "text/plain": f"{header.text}\n{format_summary(snap)}"}  # fmt: skip

    def _leave_static(self, snap: JobSnapshot) -> None:
        if not self._static_at_end:
            return
        from IPython.display import update_display

        for display_id in self._slots.take():
            self._static_slots.add(display_id)
        for display_id in self._static_slots:
            update_display(self._static_bundle(snap, display_id), raw=True, display_id=display_id)

    def __repr__(self) -> str:
        snap = self._latest
        if snap is None:
            return "<dw progress: waiting for the first update>"
        name = f" {snap.name!r}" if snap.name else ""
        return f"<dw progress{name}: {format_progress(snap)}>"
