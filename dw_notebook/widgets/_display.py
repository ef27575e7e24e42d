"""Display slots: outputs shown under a display id so a widget can later replace them.

A widget that is displayed records the display id of each place it appears; when it has
something else to show there (the progress widget after submit, static HTML at the end of a
job), it updates those outputs. Display updates are routed by id, so they also work from a
poller thread or a comm message handler, whose output would otherwise land nowhere visible.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any


def new_id() -> str:
    return uuid.uuid4().hex


def show(data: dict[str, Any], metadata: dict[str, Any] | None = None) -> str:
    """Display a raw mimebundle under a new display id; returns the id."""
    from IPython.display import display

    display_id = new_id()
    display(data, metadata=metadata or {}, raw=True, display_id=display_id)
    return display_id


def replace(display_id: str, obj: Any, header: Any = None) -> None:
    """Show ``obj`` in place of the output ``display_id``.

    Widgets of this package take the slot over (so they can replace it again later); a job
    (anything with a ``widget()`` method) is shown as its widget; other objects are shown
    through IPython's usual formatting; a dict is taken as a raw mimebundle. ``header`` (for
    widgets of this package that take one) is a record to keep above the new content.
    """
    from IPython.display import update_display

    widget = getattr(obj, "widget", None)
    if callable(widget) and not hasattr(obj, "adopt_display"):
        obj = widget()
    if hasattr(obj, "adopt_display"):
        obj.adopt_display(display_id, header=header)
    elif isinstance(obj, dict):
        update_display(obj, raw=True, display_id=display_id)
    else:
        update_display(obj, display_id=display_id)


class Slots:
    """The display ids a widget was shown under (thread-safe)."""

    def __init__(self) -> None:
        self._ids: list[str] = []
        self._lock = threading.Lock()

    def add(self, display_id: str) -> None:
        with self._lock:
            if display_id not in self._ids:
                self._ids.append(display_id)

    def take(self) -> list[str]:
        """All ids, forgetting them (the outputs now belong to something else)."""
        with self._lock:
            ids, self._ids = self._ids, []
        return ids

    def __bool__(self) -> bool:
        return bool(self._ids)

    def __iter__(self):
        with self._lock:
            return iter(list(self._ids))
