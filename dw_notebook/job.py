"""A job: the batches created for one DataFrame, their live state and their results.

The job ties the layers together: it asks the client for batch states, turns them into
snapshots for widgets and text, and hands downloaded result lines to the join. Every id it learns
is written to the registry at once.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd

from . import wire
from .client import BatchClient
from .config import Connection
from .errors import (
    APIError,
    BudgetExceededError,
    ConflictError,
    DwError,
    JobError,
    NotFoundError,
    ServerError,
    TransportError,
)
from .poller import Poller
from .registry import BatchRecord, Registry
from .snapshot import BatchSnapshot, JobSnapshot
from .terminal import TextProgress, in_kernel, thread_updates_broken

log = logging.getLogger(__name__)

Listener = Callable[[JobSnapshot], None]

RESULTS_HINT = "Results: out = job.join(); job.review() to look through them"

_ACTIVE_ORDER = (wire.VALIDATING, wire.IN_PROGRESS, wire.FINALIZING, wire.CANCELLING)
_END_ORDER = (wire.CANCELLED, wire.EXPIRED, wire.FAILED, wire.COMPLETED)


def aggregate_phase(statuses: Iterable[str]) -> str:
    """One phase for several batches: the least advanced running one, else the worst ending."""
    statuses = list(statuses)
    if not statuses:
        return "submitting"
    for status in _ACTIVE_ORDER:
        if status in statuses:
            return status
    for status in _END_ORDER:
        if status in statuses:
            return status
    return statuses[0]


class Job:
    """Batches for one DataFrame. Made by ``dw.submit`` or ``dw.attach``, not directly.

    >>> job = dw.submit(df, prompt="Sentiment of: {review}", model="mock")  # doctest: +SKIP
    >>> job                # a live progress widget; the kernel stays free
    >>> out = job.join()   # waits, then returns df with the answers joined by custom_id
    """

    def __init__(
        self,
        *,
        client: BatchClient,
        connection: Connection,
        registry: Registry,
        job_id: str,
        name: str,
        spec: dict[str, Any],
        df: pd.DataFrame | None,
        built: Any = None,
        estimate: Any = None,
        records: Iterable[BatchRecord] = (),
    ) -> None:
        self.id = job_id
        self.name = name
        self.spec = spec
        self.df = df
        self.built = built
        self.estimate = estimate
        self.connection = connection
        self._client = client
        self._registry = registry
        self._lock = threading.RLock()
        self._records: list[BatchRecord] = list(records)
        self._batches: dict[str, dict[str, Any]] = {}
        self._poll_error: str | None = None
        self._last_ok: float | None = None
        self._started = time.time()
        self._history: deque[tuple[float, int]] = deque(maxlen=120)
        self._listeners: list[Listener] = []
        self._poller: Poller | None = None
        self._widget: Any = None
        self._last_snapshot: JobSnapshot | None = None
        self.service_estimate: float | None = None  # USD, from the service's own estimate
        self._partial: Any = None  # results read so far by partial()
        self._lines_read: dict[str, int] = {}  # per growing file, for partial()
        self._derived_ids: list[str] | None = None

    # -- identity ----------------------------------------------------------------------------

    @property
    def attempt(self) -> int:
        return max((r.attempt for r in self._records), default=0)

    @property
    def batch_ids(self) -> list[str]:
        """Every batch id of this job, all attempts, in creation order."""
        return [r.batch_id for r in self._records if r.batch_id]

    def _current_batch_ids(self) -> list[str]:
        attempt = self.attempt
        return [r.batch_id for r in self._records if r.batch_id and r.attempt == attempt]

    def _add_record(self, record: BatchRecord) -> None:
        with self._lock:
            self._records = [
                r for r in self._records if (r.attempt, r.chunk) != (record.attempt, record.chunk)
            ]
            self._records.append(record)
            self._records.sort(key=lambda r: (r.attempt, r.chunk))

    def __repr__(self) -> str:
        from .widgets.text import format_progress

        return f"<dw Job {self.name!r} {format_progress(self.snapshot())}>"

    # -- polling -----------------------------------------------------------------------------

    def refresh(self) -> JobSnapshot:
        """Ask the service for the state of every unfinished batch; never raises on a poll."""
        with self._lock:
            for batch_id in self._current_batch_ids():
                known = self._batches.get(batch_id)
                if known and known["status"] in wire.TERMINAL_STATUSES:
                    continue
                try:
                    batch = self._client.get_batch(batch_id)
                except (TransportError, APIError) as exc:
                    self._poll_error = str(exc)
                    break
                self._poll_error = None
                self._last_ok = time.time()
                if not known or known["status"] != batch["status"]:
                    self._registry.record_status(batch_id, batch["status"])
                self._batches[batch_id] = batch
            self._history.append((time.time(), self._finished_requests()))
            snapshot = self.snapshot()
        self._emit(snapshot)
        return snapshot

    def snapshot(self) -> JobSnapshot:
        """The job's state as last seen (no network)."""
        with self._lock:
            now = time.time()
            ids = self._current_batch_ids()
            batches = [self._batches.get(i) for i in ids]
            rows = tuple(
                BatchSnapshot(i, b["status"], **b["request_counts"])
                if b
                else BatchSnapshot(i, wire.VALIDATING)
                for i, b in zip(ids, batches, strict=True)
            )
            total = sum(r.total for r in rows) or self._expected_requests()
            completed = sum(r.completed for r in rows)
            failed = sum(r.failed for r in rows)
            phase = aggregate_phase(r.status for r in rows)
            done = bool(rows) and all(r.status in wire.TERMINAL_STATUSES for r in rows)
            created = [b["created_at"] for b in batches if b and b.get("created_at")]
            start = min(created) if created else self._started
            throughput = self._throughput()
            remaining = max(total - completed - failed, 0)
            expires = [b["expires_at"] for b in batches if b and b.get("expires_at")]
            snapshot = JobSnapshot(
                name=self.name,
                phase=phase,
                total=total,
                completed=completed,
                failed=failed,
                batches=rows,
                model=self.spec.get("model", ""),
                simulated=self.connection.simulated,
                done=done,
                elapsed_s=max(now - start, 0.0),
                throughput=throughput,
                eta_s=remaining / throughput if throughput and not done else None,
                window_left_s=max(min(expires) - now, 0.0) if expires and not done else None,
                estimated_cost=self.estimated_cost,
                actual_cost=self._actual_cost(batches),
                poll_error=self._poll_error,
                last_update_age_s=now - self._last_ok if self._last_ok is not None else None,
                message=self._message(batches, done),
                extra={"hint": RESULTS_HINT} if done else {},
            )
            self._last_snapshot = snapshot
            return snapshot

    @property
    def estimated_cost(self) -> float | None:
        """USD: the service's estimate where it gave one, else the local one (None: unknown)."""
        if self.service_estimate is not None:
            return self.service_estimate
        return getattr(self.estimate, "usd", None)

    def _actual_cost(self, batches: list[dict[str, Any] | None]) -> float | None:
        """USD charged so far, from the token usage the service reports (None: not reported
        or no known price). Only completed requests are charged, and usage counts only those."""
        from .prices import price_for

        price = price_for(self.spec.get("model", ""), self.spec.get("window", "24h"))
        usages = [b.get("usage") for b in batches if b]
        if price is None or not usages or not all(isinstance(u, dict) for u in usages):
            return None
        tokens_in = sum(int(u.get("input_tokens") or 0) for u in usages)
        tokens_out = sum(int(u.get("output_tokens") or 0) for u in usages)
        return (tokens_in * price.input + tokens_out * price.output) / 1e6

    def _expected_requests(self) -> int:
        if self.attempt == 0:
            return int(self.spec.get("n_requests") or 0)
        return 0

    def _finished_requests(self) -> int:
        counts = [self._batches[i]["request_counts"] for i in self._current_batch_ids()
                  if i in self._batches]  # fmt: skip
        return sum(c["completed"] + c["failed"] for c in counts)

    def _throughput(self) -> float | None:
        if len(self._history) < 2:
            return None
        (t0, n0), (t1, n1) = self._history[0], self._history[-1]
        if t1 - t0 < 1.0 or n1 <= n0:
            return None
        return (n1 - n0) / (t1 - t0)

    def _message(self, batches: list[dict[str, Any] | None], done: bool) -> str:
        parts = []
        if self.connection.simulated:
            parts.append("answers are simulated by the embedded local server (no API key set)")
        if self.attempt:
            parts.append(f"retry {self.attempt}")
        if not done and any(b and b.get("expired_at") for b in batches):
            # Doubleword marks expiry but keeps working instead of ending the batch
            parts.append("past the completion window; the service is still working on it")
        return "; ".join(parts)

    def _emit(self, snapshot: JobSnapshot) -> None:
        for listener in list(self._listeners):
            try:
                listener(snapshot)
            except Exception:
                log.exception("dw-notebook: progress listener failed")

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def start_polling(self, interval: float | None = None) -> None:
        """Poll on a daemon thread (idempotent); listeners get every snapshot."""
        if self._poller is not None and self._poller.running:
            self._poller.poke()
            return
        if interval is None:
            interval = 0.4 if self.connection.simulated else 3.0
        slowest = interval if self.connection.simulated else 15.0
        self._poller = Poller(self, interval=interval, max_interval=slowest)
        self._poller.start()

    @property
    def done(self) -> bool:
        snapshot = self._last_snapshot or self.snapshot()
        return snapshot.done

    def wait(self, timeout: float | None = None, *, progress: bool | None = None) -> Job:
        """Poll on this thread until every batch has ended.

        Progress shows as text in a terminal, and as the widget in a notebook (displayed here
        if the job was not shown yet).

        Ctrl-C stops waiting (the batches keep running) after offering to cancel them.
        """
        if progress is None:
            progress = not in_kernel()
            if not progress and self._widget is None and not self.done:
                self._ipython_display_()  # `dw.submit(...).join()` still shows progress
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = 0.25 if self.connection.simulated else 3.0
        printer = TextProgress() if progress and not self.done else None
        try:
            while True:
                snapshot = self.refresh()
                if printer:
                    printer.show(snapshot)
                if snapshot.done:
                    if printer:
                        printer.close(snapshot)
                    return self
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"job {self.name!r} not finished after {timeout} s")
                time.sleep(interval if not snapshot.poll_error else min(interval * 4, 30))
        except KeyboardInterrupt:
            self._on_interrupt()
            raise

    def _on_interrupt(self) -> None:
        ids = ", ".join(self._current_batch_ids()) or "(none yet)"
        print(
            f"\nStopped waiting. The batches are still running: {ids}.\n"
            f"Resume with dw.attach({self.name!r}, df); cancel with job.cancel().",
            file=sys.stderr,
        )
        if in_kernel() or (sys.stdin is not None and sys.stdin.isatty()):
            try:
                answer = input("Cancel the batches now? [y/N] ")
            except (Exception, KeyboardInterrupt):  # no stdin (nbclient, papermill): keep running
                return
            if answer.strip().lower().startswith("y"):
                self.cancel()

    # -- commands ------------------------------------------------------------------------------

    def cancel(self) -> JobSnapshot:
        """Cancel every unfinished batch; results so far are kept and join as usual."""
        for batch_id in self._current_batch_ids():
            try:
                self._client.cancel_batch(batch_id)
            except (ConflictError, NotFoundError):
                continue  # finished meanwhile, or gone
        snapshot = self.refresh()
        if self._poller is not None:
            self._poller.poke()
        return snapshot

    def handle_command(self, command: str) -> None:
        """Commands sent by widgets ('cancel', 'refresh'); errors are reported, not raised."""
        try:
            if command == "cancel":
                self.cancel()
            elif command == "refresh":
                self.start_polling()
                self.refresh()
        except DwError as exc:
            self._poll_error = str(exc)
            self._emit(self.snapshot())

    # -- results ---------------------------------------------------------------------------

    def _download(self, file_id: str) -> bytes:
        try:
            return self._client.file_content(file_id).data
        except NotFoundError:
            return b""

    def _result_files(self) -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]:
        """(batch id, content) of every output and error file, all attempts, oldest first."""
        outputs, errors = [], []
        for batch_id in self.batch_ids:
            batch = self._batches.get(batch_id) or self._client.get_batch(batch_id)
            if batch["output_file_id"]:
                outputs.append((batch_id, self._download(batch["output_file_id"])))
            if batch["error_file_id"]:
                errors.append((batch_id, self._download(batch["error_file_id"])))
        return outputs, errors

    def join(self, *, wait: bool = True, timeout: float | None = None) -> pd.DataFrame:
        """A copy of the DataFrame with result columns, joined by custom_id.

        Columns: the answer (``content`` or one per schema field), ``status``, ``error``,
        ``finish_reason``, ``prompt_tokens``, ``completion_tokens``, ``batch_id``, ``attempt``.
        After ``retry()`` each row shows its latest answer (an answer beats a failure).
        """
        if wait:
            self.wait(timeout)
        elif not self.done:
            raise JobError(f"job {self.name!r} is still running; use job.partial() or wait")
        outputs, errors = self._result_files()
        return self._join(outputs, errors)

    def partial(self) -> pd.DataFrame:
        """The rows finished so far, joined like ``join()``; the others are ``not_run``.

        Each call reads only the lines not read before where the service can (Doubleword
        ``skip`` + ``X-Last-Line``) and adds them to the results parsed so far; a service whose
        output appears only at the end (OpenAI) gives results once finished.
        """
        from .results import ResultTable

        self.refresh()
        if self._partial is None:
            self._partial = ResultTable()
        for batch_id in self.batch_ids:
            batch = self._batches.get(batch_id)
            for file_id in (batch["output_file_id"], batch["error_file_id"]) if batch else ():
                if file_id:
                    self._partial.add(self._read_new_lines(file_id), batch_id)
        return self._join([], [], results=self._partial)

    def _read_new_lines(self, file_id: str) -> bytes:
        """The lines of a growing file that were not read before."""
        seen = self._lines_read.get(file_id, 0)
        try:
            page = self._client.file_content(file_id, skip=seen or None)
        except NotFoundError:  # Doubleword: "not yet"
            return b""
        # A service that ignores skip sends the whole file again; re-adding a line is harmless
        # because the results keep one entry per custom_id.
        if page.last_line is not None:
            self._lines_read[file_id] = page.last_line
        return page.data

    def _join(
        self,
        outputs: list[tuple[str, bytes]],
        errors: list[tuple[str, bytes]],
        results: Any = None,
    ) -> pd.DataFrame:
        from .results import join_results

        if self.df is None:
            raise JobError("this job has no DataFrame; attach it with dw.attach(name, df)")
        frame = join_results(
            self.df,
            self._ids(),
            outputs=outputs,
            errors=errors,
            schema=self.spec.get("schema"),
            endpoint=self.spec["endpoint"],
            results=results,
        )
        attempts = {r.batch_id: r.attempt for r in self._records if r.batch_id}
        frame["attempt"] = frame["batch_id"].map(attempts).astype("Int64")
        return frame

    def _ids(self) -> Any:
        """The build (its ids per row), else ids derived from the DataFrame's index, once."""
        if self.built is not None:
            return self.built
        if self._derived_ids is None:
            from .build import make_custom_ids

            self._derived_ids = make_custom_ids(self.df.index)
        return self._derived_ids

    # -- retry -----------------------------------------------------------------------------

    RETRY_STATUSES = ("failed", "expired", "cancelled", "not_run")

    def retry(self, *, truncated: bool = True, **body_overrides: Any) -> Job:
        """Resubmit only the rows that failed, expired, never ran or (``truncated``) hit
        ``max_tokens``, as a new attempt of this job; ``join()`` then merges the answers.

        >>> job.retry(max_tokens=512)   # doctest: +SKIP  (body fields to change for the retry)
        """
        out = self.join()
        again = out["status"].isin(self.RETRY_STATUSES)
        if truncated:
            again |= out["finish_reason"].eq("length").fillna(False)
        ids = self.built.row_ids if self.built is not None else self._ids()
        wanted = {ids[i] for i in np.flatnonzero(again.to_numpy()) if ids[i] is not None}
        if not wanted:
            raise JobError(f"nothing to retry: every row of job {self.name!r} has an answer")
        lines = [_override(line, body_overrides) for line in self._input_lines(wanted)]
        chunks = _pack(
            lines,
            self.spec.get("max_requests", wire.MAX_REQUESTS_PER_FILE),
            self.spec.get("max_bytes", wire.MAX_FILE_BYTES),
        )
        self.create_batches(chunks, attempt=self.attempt + 1)
        if self._widget is not None:
            self.start_polling()
        return self

    def _input_lines(self, wanted: set[str]) -> list[bytes]:
        """The original request lines of the given custom_ids."""
        if self.built is not None:
            index = {cid: i for i, cid in enumerate(self.built.custom_ids)}
            return [self.built.line(index[cid]) for cid in sorted(wanted, key=index.__getitem__)]
        lines = []
        for record in self._records:
            if record.attempt == 0 and record.input_file_id:
                for line in self._download(record.input_file_id).splitlines():
                    if line.strip() and orjson.loads(line).get("custom_id") in wanted:
                        lines.append(line)
        return lines

    # -- creating batches --------------------------------------------------------------------

    def create_batches(self, chunks: Sequence[Any], attempt: int) -> None:
        """Upload and create every chunk that has no batch yet, recording each id at once.

        ``chunks`` are JSONL bytes or build chunks (read one at a time, so a split job never
        holds a second copy of the whole file).

        Safe to call again after any failure: recorded files are not uploaded twice, and a
        batch whose creation answer was lost is found by its metadata.
        """
        records = {(r.attempt, r.chunk): r for r in self._records}
        for chunk, data in enumerate(chunks):
            record = records.get((attempt, chunk))
            if record and record.batch_id:
                continue
            file_id = record.input_file_id if record else None
            if not file_id:
                name = f"{self.name}-{attempt}-{chunk}.jsonl"
                payload = data if isinstance(data, bytes) else data.data
                file_id = self._client.upload_file(payload, filename=name)["id"]
                del payload
                self._check_service_estimate(file_id)
                self._registry.record_file(self.id, attempt, chunk, file_id)
                self._add_record(BatchRecord(self.id, attempt, chunk, file_id, None, None))
            tag = {"dw_job": self.id, "dw_attempt": str(attempt), "dw_chunk": str(chunk)}
            metadata = {**self.spec.get("metadata", {}), **tag}
            try:
                batch = self._client.create_batch(
                    file_id, self.spec["endpoint"], self.spec["window"], metadata
                )
            except (TransportError, ServerError) as exc:
                # The batch may exist although the answer was lost: find it by its metadata.
                batch = self._find_created(tag)
                if batch is None:
                    raise JobError(
                        f"creating the batch for chunk {chunk} failed ({exc}); nothing is lost: "
                        "run the same cell again to resume"
                    ) from exc
            self._registry.record_batch(self.id, attempt, chunk, batch["id"], batch["status"])
            self._add_record(
                BatchRecord(self.id, attempt, chunk, file_id, batch["id"], batch["status"])
            )
            self._batches[batch["id"]] = batch

    def _check_service_estimate(self, file_id: str) -> None:
        """Add the service's own estimate for an uploaded file, where it has one, and refuse
        (deleting the file) when the total goes over ``budget``."""
        try:
            answer = self._client.cost_estimate(file_id, self.spec["window"])
            usd = float(answer["total_estimated_cost"])
        except (APIError, TransportError, KeyError, TypeError, ValueError):
            return  # no estimate endpoint (OpenAI) or no price: the local estimate stands
        self.service_estimate = (self.service_estimate or 0.0) + usd
        budget = self.spec.get("budget")
        if budget is not None and self.service_estimate > budget:
            try:
                self._client.delete_file(file_id)
            except (APIError, TransportError):
                pass
            raise BudgetExceededError(
                f"the service estimates ${self.service_estimate:.4f}, over the budget "
                f"${budget:.4f}; nothing was submitted. Raise budget= or send fewer rows.",
                answer,
            )

    def _find_created(self, tag: dict[str, str]) -> dict[str, Any] | None:
        try:
            for batch in self._client.iter_batches(max_pages=3):
                metadata = batch.get("metadata") or {}
                if all(metadata.get(k) == v for k, v in tag.items()):
                    return batch
        except (TransportError, APIError):
            return None
        return None

    def review(self, **options: Any) -> Any:
        """A widget to review the results: label charts, failed rows, prompts beside answers."""
        from .ui import review

        return review(self, **options)

    # -- widget --------------------------------------------------------------------------------

    def widget(self) -> Any:
        """The live progress widget of this job (one per job)."""
        if self._widget is None:
            from .widgets.progress import ProgressWidget

            if thread_updates_broken():
                warnings.warn("ipykernel 7.0 does not show live widget updates; use >= 7.1",
                              stacklevel=2)  # fmt: skip
            self._widget = ProgressWidget()
            self._widget.on_command(self.handle_command)
            self._widget.update(self.snapshot())
            self.add_listener(self._widget.update)
        self.start_polling()
        return self._widget

    def _ipython_display_(self) -> None:
        from IPython.display import display

        try:
            widget = self.widget()
        except Exception as exc:  # no widget frontend support: fall back to text
            log.debug("no widget: %r", exc)
            print(repr(self))
            return
        display(widget)


def _override(line: bytes, body_overrides: dict[str, Any]) -> bytes:
    if not body_overrides:
        return line
    request = orjson.loads(line)
    request["body"].update(body_overrides)
    return orjson.dumps(request)


def _pack(lines: list[bytes], max_requests: int, max_bytes: int) -> list[bytes]:
    """Request lines packed into JSONL files within the per-file limits."""
    chunks: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for line in lines:
        if current and (len(current) >= max_requests or size + len(line) + 1 > max_bytes):
            chunks.append(b"\n".join(current) + b"\n")
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        chunks.append(b"\n".join(current) + b"\n")
    return chunks
