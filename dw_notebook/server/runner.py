"""The background thread that moves batches through their states and runs their requests."""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import orjson

from dw_notebook import wire
from dw_notebook.server import records
from dw_notebook.server.backends import Backend, error_body
from dw_notebook.server.clock import Clock
from dw_notebook.server.dialects import Dialect
from dw_notebook.server.files import FileStore
from dw_notebook.server.store import Store
from dw_notebook.server.validation import parse_file

log = logging.getLogger(__name__)

RETRIABLE = frozenset({408, 429, 500, 502, 503, 504})


class Runner:
    """Runs every active batch at ``rate`` requests per second (None: as fast as possible).

    Writes happen only on this thread: lines are appended to the output/error files first, then
    the request states and committed file sizes are saved in one SQLite transaction. A restart
    cuts each file back to its committed size and reruns requests not marked done, so nothing
    is lost or done twice.
    """

    def __init__(
        self,
        store: Store,
        files: FileStore,
        backend: Backend,
        clock: Clock,
        dialect: Dialect,
        rate: float | None = 50.0,
        shuffle: bool = False,
        validation_delay: float = 0.3,
        finalize_delay: float = 0.3,
        max_attempts: int = 3,
        retry_backoff: float = 1.0,
        chunk: int = 2000,
    ) -> None:
        self.store, self.files, self.backend, self.clock = store, files, backend, clock
        self.dialect = dialect
        self.rate = rate
        self.shuffle = shuffle
        self.validation_delay = validation_delay
        self.finalize_delay = finalize_delay
        self.max_attempts = max_attempts
        self.retry_backoff = retry_backoff
        self.chunk = chunk if backend.concurrency <= 1 else max(1, backend.concurrency * 2)
        self._pool = (
            ThreadPoolExecutor(backend.concurrency, thread_name_prefix="dw-backend")
            if backend.concurrency > 1
            else None
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._commands: list[tuple[Callable[[], object], Future]] = []
        self._lock = threading.Lock()
        self._tokens = 0.0
        self._last = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="dw-batch-runner", daemon=True)

    # lifecycle
    def start(self) -> None:
        self.recover()
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

    def recover(self) -> None:
        """Cut files back to their committed sizes (undoing writes a crash left half-recorded)."""
        for b in self.store.active_batches():
            for fid, size in ((b["out_id"], b["out_bytes"]), (b["err_id"], b["err_bytes"])):
                if self.files.size(fid) != size or not self.files.path(fid).exists():
                    self.files.truncate(fid, size)
                if self.store.get_file(fid):
                    self.store.set_file_bytes(fid, size)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            busy = False
            try:
                busy = self._run_commands() or self.tick()
            except Exception:  # keep serving; one bad batch must not stop the others
                log.exception("batch runner step failed")
            if not busy:
                self._wake.wait(0.02)

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
        for b in self.store.active_batches():
            if self._stop.is_set():
                break
            busy |= self._step(b, self.clock.now())
        return busy

    def _step(self, b: dict, now: float) -> bool:
        status = b["status"]
        if status == wire.VALIDATING:
            if now < b["created_at"] + self.validation_delay:
                return False
            return self._validate(b, now)
        if status == wire.IN_PROGRESS:
            if now >= b["expires_at"] and b["expired_at"] is None:
                if self.dialect.has_expired_status:
                    self._close(b, now, wire.EXPIRED_CODE)
                    return True
                self.store.update_batch(b["id"], expired_at=now)
            return self._run(b, now)
        if status == wire.FINALIZING:
            if now < b["finalizing_at"] + self.finalize_delay:
                return False
            self._finish(b, now)
            return True
        if status == wire.CANCELLING:
            if now < b["cancelling_at"] + self.finalize_delay:
                return False
            self._close(b, now, wire.CANCELLED_CODE)
            return True
        return False

    # states
    def _validate(self, b: dict, now: float) -> bool:
        try:
            parsed = parse_file(
                self.files.path(b["input_file_id"]), b["endpoint"], self.dialect.unique_custom_ids
            )
        except FileNotFoundError:
            errors = [
                {
                    "code": "file_not_found",
                    "message": "The input file was deleted.",
                    "param": "input_file_id",
                    "line": None,
                }
            ]
        else:
            errors = parsed.errors
        if errors:
            self.store.update_batch(
                b["id"],
                expect=wire.VALIDATING,
                status=wire.FAILED,
                failed_at=now,
                errors=orjson.dumps(errors).decode(),
            )
            return True
        n = len(parsed.requests)
        order = list(range(n))
        if self.shuffle:
            random.shuffle(order)
        rows = [(i, order[i], cid, off, ln) for i, (_, cid, off, ln) in enumerate(parsed.requests)]
        for fid in (b["out_id"], b["err_id"]):
            if not self.files.path(fid).exists():
                self.files.create_empty(fid)
        self.store.start_batch(
            b["id"],
            rows,
            {"status": wire.IN_PROGRESS, "in_progress_at": now, "total": n, "model": parsed.model},
        )
        return True

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
        calls = self._read_calls(b, todo)
        if self._pool is not None:
            replies = list(self._pool.map(self._handle, calls))
        else:
            replies = [self._handle(c) for c in calls]
        self._save(b, todo, replies, self.clock.now())
        return True

    def _read_calls(self, b: dict, todo: list[dict]) -> list[tuple[str, dict, int]]:
        calls = []
        with open(self.files.path(b["input_file_id"]), "rb") as fh:
            for r in todo:
                fh.seek(r["offset"])
                obj = orjson.loads(fh.read(r["length"]))
                calls.append((obj["url"], obj["body"], r["attempts"]))
        return calls

    def _handle(self, call: tuple[str, dict, int]) -> tuple[int, dict]:
        url, body, attempt = call
        try:
            return self.backend.handle(url, body, attempt)
        except Exception as exc:  # a backend bug becomes a 500 for that request only
            log.warning("backend failed: %s", exc)
            return 500, error_body(f"backend error: {type(exc).__name__}", "server_error")

    def _save(self, b: dict, todo: list[dict], replies: list, now: float) -> None:
        out, err, updates = [], [], []
        deltas = {"completed": 0, "failed": 0, "retrying": 0, "input_tokens": 0, "output_tokens": 0}
        stamp = int(now)
        for r, (status, body) in zip(todo, replies, strict=True):
            line_id = self.dialect.request_id(b["id"], r["idx"])
            if r["state"] == "retry":
                deltas["retrying"] -= 1
            if status < 400:
                if body.get("created") == 0:
                    body["created"] = stamp
                usage = body.get("usage") or {}
                deltas["input_tokens"] += usage.get("prompt_tokens", 0) or 0
                deltas["output_tokens"] += usage.get("completion_tokens", 0) or 0
                out.append(records.response_line(line_id, r["custom_id"], status, body))
                deltas["completed"] += 1
                updates.append(("done", r["attempts"] + 1, None, r["idx"]))
            elif (
                self.dialect.retries_failures
                and status in RETRIABLE
                and r["attempts"] + 1 < self.max_attempts
            ):
                deltas["retrying"] += 1
                retry_at = now + self.retry_backoff * 2 ** r["attempts"]
                updates.append(("retry", r["attempts"] + 1, retry_at, r["idx"]))
            else:
                err.append(records.response_line(line_id, r["custom_id"], status, body))
                deltas["failed"] += 1
                updates.append(("failed", r["attempts"] + 1, None, r["idx"]))
        fields = {}
        if out:
            fields["out_bytes"] = self.files.append(b["out_id"], b"".join(out))
        if err:
            fields["err_bytes"] = self.files.append(b["err_id"], b"".join(err))
        self.store.record(b["id"], updates, deltas, fields)
        self._sync_file_sizes(b, fields)

    def _sync_file_sizes(self, b: dict, fields: dict) -> None:
        if not self.dialect.files_from_creation:
            return
        if "out_bytes" in fields:
            self.store.set_file_bytes(b["out_id"], fields["out_bytes"])
        if "err_bytes" in fields:
            self.store.set_file_bytes(b["err_id"], fields["err_bytes"])

    def _publish(self, b: dict, now: float) -> dict:
        """File ids to show on a finished batch (OpenAI: only non-empty files, made now)."""
        b = self.store.get_batch(b["id"]) or b
        if self.dialect.files_from_creation:
            self.store.set_file_bytes(b["out_id"], b["out_bytes"])
            self.store.set_file_bytes(b["err_id"], b["err_bytes"])
            return {}
        ids = {}
        for fid, size, key, kind in (
            (b["out_id"], b["out_bytes"], "output_file_id", "output"),
            (b["err_id"], b["err_bytes"], "error_file_id", "error"),
        ):
            if size > 0:
                if not self.store.get_file(fid):
                    self.store.insert_file(
                        {
                            "id": fid,
                            "filename": f"{b['id']}_{kind}.jsonl",
                            "purpose": "batch_output",
                            "bytes": size,
                            "created_at": now,
                            "expires_at": None,
                            "status": "processed",
                            "batch_id": b["id"],
                        }
                    )
                ids[key] = fid
            else:
                self.files.delete(fid)
        return ids

    def _finish(self, b: dict, now: float) -> None:
        ids = self._publish(b, now)
        all_failed = b["total"] > 0 and b["completed"] == 0 and b["failed"] == b["total"]
        if all_failed and self.dialect.all_failed_status == wire.FAILED:
            fields = {"status": wire.FAILED, "failed_at": now}
        else:
            fields = {"status": wire.COMPLETED, "completed_at": now}
        self.store.update_batch(b["id"], expect=wire.FINALIZING, **fields, **ids)

    def _close(self, b: dict, now: float, code: str) -> None:
        """End a batch early: requests that never ran get ``code`` lines in the error file."""
        lines, updates = [], []
        left = self.store.unfinished_requests(b["id"])
        for r in left:
            line_id = self.dialect.request_id(b["id"], r["idx"])
            lines.append(records.error_line(line_id, r["custom_id"], code))
            updates.append(("not_run", 0, None, r["idx"]))
        fields = {}
        if lines:
            fields["err_bytes"] = self.files.append(b["err_id"], b"".join(lines))
        retrying = sum(1 for r in left if r["state"] == "retry")
        self.store.record(b["id"], updates, {"retrying": -retrying}, fields)
        self._sync_file_sizes(b, fields)
        ids = self._publish(b, now)
        if code == wire.EXPIRED_CODE:
            done = {"status": wire.EXPIRED, "expired_at": now}
            expect = wire.IN_PROGRESS
        else:
            done = {"status": wire.CANCELLED, "cancelled_at": now}
            expect = wire.CANCELLING
        self.store.update_batch(b["id"], expect=expect, **done, **ids)

    # commands from the API (run on this thread)
    def retry_failed(self, batch_id: str) -> int:
        """Doubleword retry: failed requests go back to pending; their error lines are removed."""
        b = self.store.get_batch(batch_id)
        failed = self.store.failed_requests(batch_id) if b else []
        if not b or not failed:
            return 0
        ids = {self.dialect.request_id(batch_id, r["idx"]) for r in failed}
        kept = [
            line
            for line in self.files.read(b["err_id"], b["err_bytes"]).splitlines(True)
            if records.line_id_of(line) not in ids
        ]
        tmp = self.files.path(b["err_id"]).with_suffix(".tmp")
        tmp.write_bytes(b"".join(kept))
        os.replace(tmp, self.files.path(b["err_id"]))
        size = sum(len(line) for line in kept)
        # attempts keep counting: the next try is a new attempt, not a replay of the first
        updates = [("pending", r["attempts"], None, r["idx"]) for r in failed]
        fields = {
            "err_bytes": size,
            "status": wire.IN_PROGRESS,
            "finalizing_at": None,
            "completed_at": None,
            "failed_at": None,
        }
        self.store.record(batch_id, updates, {"failed": -len(failed)}, fields)
        self._sync_file_sizes(b, {"err_bytes": size})
        return len(failed)
