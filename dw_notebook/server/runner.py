"""The background thread: decides when each batch moves on and runs requests at the set rate."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from dw_notebook import wire
from dw_notebook.server import prices
from dw_notebook.server.backends import Backend
from dw_notebook.server.clock import Clock
from dw_notebook.server.dialects import Dialect
from dw_notebook.server.files import FileStore
from dw_notebook.server.lifecycle import Lifecycle, call_of
from dw_notebook.server.replies import error_body
from dw_notebook.server.retention import Cleaned, cleanup
from dw_notebook.server.store import Store

log = logging.getLogger(__name__)

AUTO = "auto"
AUTO_MIN_RATE = 50.0  # requests/s: a 300-row demo takes about 6 s, slow enough to watch
AUTO_TARGET_S = 60.0  # and any job, however large, is paced to end in about a minute


class Runner:
    """Runs every active batch at ``rate`` requests per second (None: as fast as possible;
    ``"auto"``: at least ``AUTO_MIN_RATE``, faster for large jobs so they end in about
    ``AUTO_TARGET_S``). With ``retention`` (seconds), batches finished longer ago than that
    and the files they used are deleted.

    All batch writes happen on this thread (see ``Lifecycle``); the API asks for changes to
    files the runner writes through ``call``.
    """

    def __init__(
        self,
        store: Store,
        files: FileStore,
        backend: Backend,
        clock: Clock,
        dialect: Dialect,
        rate: float | str | None = 50.0,
        shuffle: bool = False,
        validation_delay: float = 0.3,
        finalize_delay: float = 0.3,
        max_attempts: int = 3,
        retry_backoff: float = 1.0,
        chunk: int = 2000,
        retention: float | None = None,
    ) -> None:
        self.store, self.backend, self.clock, self.dialect = store, backend, clock, dialect
        self.life = Lifecycle(store, files, dialect, shuffle, max_attempts, retry_backoff)
        if dialect.name == "openai" and backend.name != "forward":  # forward: upstream's models
            self.life.models = frozenset(prices.MODEL_IDS)
        self.auto = rate == AUTO
        self.rate: float | None = AUTO_MIN_RATE if self.auto else rate  # type: ignore[assignment]
        self.retention = retention
        self.cleanup_every = 60.0  # seconds between retention passes
        self._last_cleanup: float | None = None  # monotonic; None: not cleaned yet
        self.validation_delay = validation_delay
        self.finalize_delay = finalize_delay
        self.chunk = chunk if backend.concurrency <= 1 else max(1, backend.concurrency * 2)
        self._pool = (
            ThreadPoolExecutor(backend.concurrency, thread_name_prefix="dw-backend")
            if backend.concurrency > 1
            else None
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._commands: list[tuple[Callable[[], object], Future]] = []
        self._late: list[tuple[float, str, list[int]]] = []  # (due, batch id, request idx)
        self._lock = threading.Lock()
        self._tokens = 0.0
        self._last = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="dw-batch-runner", daemon=True)

    # lifecycle
    def start(self) -> None:
        self.life.recover()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def wake(self) -> None:
        self._wake.set()

    def call(self, fn: Callable[[], object]) -> Future:
        """Run ``fn`` on the runner thread (for changes to files the runner writes)."""
        fut: Future = Future()
        with self._lock:
            self._commands.append((fn, fut))
        self.wake()
        return fut

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            busy = False
            try:
                self._clean_if_due()
                busy = self._run_commands() or self._run_late() or self.tick()
            except Exception:  # keep serving; one bad batch must not stop the others
                log.exception("batch runner step failed")
            if not busy:
                self._wake.wait(0.02)

    def _clean_if_due(self) -> None:
        if self.retention is None:
            return
        now = time.monotonic()
        if self._last_cleanup is None or now >= self._last_cleanup + self.cleanup_every:
            self._last_cleanup = now
            cleaned = self.cleanup(self.retention)
            if cleaned.batches or cleaned.files:
                log.info("retention: removed %s", cleaned)

    def cleanup(self, older_than: float) -> Cleaned:
        """Delete what finished more than ``older_than`` seconds ago (on the runner thread)."""
        return cleanup(self.store, self.life.files, self.clock.now() - older_than)

    def retry_failed(self, batch_id: str) -> int:
        """Doubleword retry of a batch's failed requests (call it through ``call``)."""
        return self.life.retry_failed(batch_id)

    def complete_late(self, due: float, batch_id: str, ids: list[int]) -> None:
        """Have the requests ``ids`` (kept in flight at a cancel) complete once the clock
        reaches ``due``."""
        with self._lock:
            self._late.append((due, batch_id, ids))
        self.wake()

    def _run_late(self) -> bool:
        now = self.clock.now()
        with self._lock:
            due = [x for x in self._late if x[0] <= now]
            self._late = [x for x in self._late if x[0] > now]
        for _, batch_id, ids in due:
            self._finish_in_flight(batch_id, ids)
        return bool(due)

    def _finish_in_flight(self, batch_id: str, ids: list[int]) -> int:
        """Run requests kept in flight and save their answers; ones finished meanwhile are
        skipped. Returns how many ran."""
        b = self.store.get_batch(batch_id)
        todo = [r for r in self.store.requests_by_idx(batch_id, ids) if r[5] == "inflight"]
        if b is None or not todo:
            return 0
        lines = self.life.read_lines(b, todo)
        calls = map(call_of, lines, [r[4] for r in todo])
        self.life.save(b, todo, map(self._handle, calls), self.clock)
        return len(todo)

    def _run_commands(self) -> bool:
        with self._lock:
            commands, self._commands = self._commands, []
        for fn, fut in commands:
            try:
                fut.set_result(fn())
            except Exception as exc:
                fut.set_exception(exc)
        return bool(commands)

    # scheduling
    def _budget(self) -> int:
        if self.rate is None:
            return self.chunk
        now = time.monotonic()
        cap = max(1.0, self.rate * 0.2)
        self._tokens = min(cap, self._tokens + (now - self._last) * self.rate)
        self._last = now
        return min(self.chunk, int(self._tokens))

    def tick(self) -> bool:
        """Advance every active batch one step; True when something happened."""
        busy = False
        batches = self.store.active_batches()
        if self.auto:
            running = sum(b["total"] for b in batches if b["status"] == wire.IN_PROGRESS)
            self.rate = max(AUTO_MIN_RATE, running / AUTO_TARGET_S)
        for b in batches:
            if self._stop.is_set():
                break
            busy |= self._step(b, self.clock.now())
        return busy

    def _step(self, b: dict, now: float) -> bool:
        status = b["status"]
        if status == wire.VALIDATING:
            if now < b["created_at"] + self.validation_delay:
                return False
            return self.life.validate(b, now)
        if status == wire.IN_PROGRESS:
            if now >= b["expires_at"] and b["expired_at"] is None:
                if self.dialect.has_expired_status:
                    self.life.close(b, now, wire.EXPIRED_CODE, wire.EXPIRED)
                    return True
                self.store.update_batch(b["id"], expired_at=now)
            return self._run(b, now)
        if status == wire.FINALIZING:
            if now < b["finalizing_at"] + self.finalize_delay:
                return False
            self.life.finish(b, now)
            return True
        if status == wire.CANCELLING:
            if not self.dialect.has_expired_status:  # Doubleword: the finalizer leaves it
                return False
            if now < b["cancelling_at"] + self.finalize_delay:
                return False
            self.life.close(b, now, wire.CANCELLED_CODE, wire.CANCELLED)
            return True
        return False

    def _run(self, b: dict, now: float) -> bool:
        budget = self._budget()
        if budget <= 0:
            return False
        todo = self.store.next_requests(b["id"], now, budget)
        if not todo:
            if b["retrying"] > 0:
                return False
            self.store.update_batch(
                b["id"], expect=wire.IN_PROGRESS, status=wire.FINALIZING, finalizing_at=now
            )
            return True
        if self.rate is not None:
            self._tokens -= len(todo)
        try:
            lines = self.life.read_lines(b, todo)
        except OSError:
            error = {
                "code": "file_not_found",
                "message": "The input file is gone.",
                "param": "input_file_id",
                "line": None,
            }
            self.life.close(b, now, "file_not_found", wire.FAILED, [error])
            return True
        # without a pool, parsed and answered one at a time as they are saved (Lifecycle.save);
        # a pool (a backend with concurrency) takes the whole chunk at once
        calls = map(call_of, lines, [r[4] for r in todo])  # r[4]: attempts so far
        if self._pool is not None:
            replies = self._pool.map(self._handle, calls)
        else:
            replies = map(self._handle, calls)
        self.life.save(b, todo, replies, self.clock)
        return True

    def _handle(self, call: tuple[str, dict, int]) -> tuple[int, dict, str, float]:
        """(status, answer, model asked for, milliseconds taken) of one request."""
        url, body, attempt = call
        model = body.get("model") if isinstance(body.get("model"), str) else ""
        start = time.perf_counter()
        try:
            status, answer = self.backend.handle(url, body, attempt)
        except Exception as exc:  # a backend bug becomes a 500 for that request only
            log.warning("backend failed: %s", exc)
            status = 500
            answer = error_body(f"backend error: {type(exc).__name__}", "server_error")
        return status, answer, model, (time.perf_counter() - start) * 1000.0
