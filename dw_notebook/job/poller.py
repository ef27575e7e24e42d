"""Polls a job on a daemon thread so widgets stay live while the kernel runs other cells.

An asyncio task on the kernel loop would stall whenever another cell blocks; a thread does not.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from ..progress.snapshot import JobSnapshot

log = logging.getLogger(__name__)


class Pollable(Protocol):
    def refresh(self) -> JobSnapshot: ...


class Poller:
    """Calls ``job.refresh()`` every ``interval`` seconds until the job is done or ``stop()``.

    The job hands each snapshot to its listeners. ``refresh()`` is expected to absorb network
    errors into the snapshot (``poll_error``); anything else it raises is logged and polling
    goes on. The pace slows towards ``max_interval`` while a long batch runs, and backs off
    further while polls fail.
    """

    def __init__(
        self, job: Pollable, interval: float = 1.0, max_interval: float | None = None
    ) -> None:
        self._job = job
        self.interval = interval
        self.max_interval = max_interval or interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dw-notebook-poller", daemon=True)

    def start(self) -> Poller:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def poke(self) -> None:
        """Poll now instead of at the next tick."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        delay = self.interval
        while not self._stop.is_set():
            try:
                snapshot = self._job.refresh()
            except Exception:  # a poll must never kill the thread
                log.exception("dw-notebook: poll failed")
                snapshot = None
            if snapshot is not None and snapshot.done:
                return
            # Back off while nothing moves for a long batch; a poke resets the pace.
            if snapshot is not None and snapshot.poll_error:
                delay = min(delay * 2, max(self.max_interval, 30.0))
            else:
                delay = min(delay * 1.2, self.max_interval)
            if self._wake.wait(delay):
                self._wake.clear()
                delay = self.interval
