"""Responses the server has accepted: background ones run on their own task, and every one
can be read back with ``GET /v1/responses/{id}``.

Mirrors Doubleword's control layer, where each such request is one stored row whose state
(``pending``, ``processing``, ``completed``, ``failed``) the GET maps to a Response status
(``queued``, ``in_progress``, ``completed``, ``failed``). Kept in memory: a restarted server
forgets them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)

Reply = tuple[int, dict]
STATUS = {"pending": "queued", "processing": "in_progress", "completed": "completed",
          "failed": "failed"}  # fmt: skip
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
               402: "insufficient_credits", 403: "permission_error", 404: "not_found_error",
               429: "rate_limit_error"}  # fmt: skip


def error_type(status: int) -> str:
    return ERROR_TYPES.get(status, "server_error")


@dataclass
class Record:
    """One accepted request: what was asked, and (once done) the model's answer."""

    uuid: str
    model: str | None
    tier: str  # "flex", "background" or "priority" (realtime)
    background: bool
    created_at: int
    state: str = "pending"
    code: int | None = None  # HTTP status of the model's answer
    answer: dict | None = None  # a Response object, or an error body
    completed_at: int | None = None

    @property
    def id(self) -> str:
        return f"resp_{self.uuid}"

    def view(self) -> dict:
        """The Response object ``GET /v1/responses/{id}`` answers."""
        status = STATUS[self.state]
        out = {"id": self.id, "object": "response", "created_at": self.created_at,
               "status": status, "model": self.model, "background": self.background,
               "output": [], "service_tier": self.tier}  # fmt: skip
        if self.state == "completed" and self.code is not None and self.code >= 400:
            err = (self.answer or {}).get("error")
            message = err.get("message") if isinstance(err, dict) else None
            out["status"] = "failed"
            out["error"] = {"type": error_type(self.code), "code": self.code,
                            "message": message or f"Upstream returned {self.code}"}  # fmt: skip
        elif self.state == "completed" and self.answer is not None:
            out["output"] = self.answer.get("output") or []
            if self.answer.get("usage") is not None:
                out["usage"] = self.answer["usage"]
        if self.state == "completed":
            out["completed_at"] = self.completed_at
        if self.state == "failed":
            out["error"] = {"type": "server_error", "message": "The request failed.", "code": 500}
        return out


class Responses:
    """Accepted responses, newest last; the oldest finished ones are dropped past ``limit``."""

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._records: OrderedDict[str, Record] = OrderedDict()
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task] = set()

    def add(self, record: Record) -> Record:
        with self._lock:
            self._records[record.uuid] = record
            if len(self._records) > self.limit:
                done = [k for k, r in self._records.items() if r.state in ("completed", "failed")]
                for key in done[: len(self._records) - self.limit]:
                    del self._records[key]
        return record

    def get(self, response_id: str) -> Record | None:
        with self._lock:
            return self._records.get(response_id.removeprefix("resp_"))

    def delete(self, response_id: str) -> bool:
        with self._lock:
            return self._records.pop(response_id.removeprefix("resp_"), None) is not None

    async def run(self, record: Record, call: Callable[[], Reply]) -> Record:
        """Run ``call`` (the model request, blocking) on a worker thread; record its answer."""
        record.state = "processing"
        try:
            record.code, record.answer = await run_in_threadpool(call)
        except Exception:
            log.exception("response %s failed", record.id)
            record.state = "failed"
            return record
        record.completed_at = int(time.time())
        record.state = "completed"
        return record

    def start(self, record: Record, call: Callable[[], Reply]) -> None:
        """Run ``record`` in the background (the caller answers at once and polls later)."""
        task = asyncio.get_running_loop().create_task(self.run(record, call))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
