"""A service that refuses for now (429, or 503, with Retry-After): what a job shows while its
calls wait, and the bound on that wait (``patience``)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from .errors import APIError, ServiceBusyError

#: Seconds of refusals (429/503 with Retry-After) waited out before giving up, by default.
DEFAULT_PATIENCE = 3600.0


def busy_reason(error: APIError) -> str:
    """'429, capacity' / '429, rate limit' / '503, unavailable': why the service refused."""
    text = f"{error.code or ''} {error.message}".lower()
    if error.status_code == 503:
        why = "unavailable"
    elif any(word in text for word in ("capacity", "window", "queue", "volume", "cap ")):
        why = "capacity"
    else:
        why = "rate limit"
    return f"{error.status_code}, {why}"


@dataclass(frozen=True)
class Busy:
    """The service refusing for now: why, when the client asks again, and since when."""

    reason: str  # e.g. "429, capacity"
    retry_in: float  # seconds until the next try
    waited: float  # seconds since the first refusal with no success in between
    route: str  # e.g. "POST files"


class BusyWatch:
    """A job's view of the refusals its calls are waiting out (any thread); ``None`` once a
    call succeeds. ``patience`` bounds the time waited, in seconds (None: no bound)."""

    def __init__(self, patience: float | None = DEFAULT_PATIENCE) -> None:
        self.patience = patience
        self._since: float | None = None
        self._at = 0.0
        self.state: Busy | None = None

    def refused(self, error: APIError, route: str, retry_in: float) -> Busy:
        now = time.monotonic()
        if self._since is None:
            self._since = now
        self._at = now
        self.state = Busy(busy_reason(error), retry_in, now - self._since, route)
        return self.state

    def answered(self) -> None:
        self._since, self.state = None, None

    def waiting(self, method: str = "GET") -> bool:
        """True while calls of ``method`` were refused and their Retry-After has not passed."""
        busy = self.state
        if busy is None or not busy.route.startswith(method):
            return False
        return time.monotonic() - self._at < busy.retry_in

    def left(self) -> float | None:
        """Seconds of patience left (None: unbounded)."""
        if self.patience is None:
            return None
        waited = 0.0 if self._since is None else time.monotonic() - self._since
        return self.patience - waited

    def text(self) -> str:
        """'service busy (429, capacity): retrying in 60 s, waited 4 min' or ''."""
        busy = self.state
        if busy is None:
            return ""
        at = max(busy.retry_in - (time.monotonic() - self._at), 0.0)
        waited = busy.waited + (time.monotonic() - self._at)
        of = f" of patience={self.patience:g} s" if self.patience is not None else ""
        return f"service busy ({busy.reason}): retrying in {_span(at)}, waited {_span(waited)}{of}"

    def error(self, error: APIError, route: str) -> ServiceBusyError:
        waited = 0.0 if self._since is None else time.monotonic() - self._since
        return ServiceBusyError(
            f"the service kept refusing {route} ({busy_reason(error)}: {error.message}) for "
            f"{_span(waited)}, past patience={self.patience:g} s; nothing is lost: re-run the "
            "same cell later (it resumes the job without sending anything twice), or pass a "
            "larger patience=",
            status_code=error.status_code,
            code=error.code,
            body=error.body,
            retry_after=error.retry_after,
        )


def _span(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 90:
        return f"{round(seconds)} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
