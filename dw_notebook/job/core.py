"""A job: the batches made for one DataFrame, their ids in the registry, and the commands on them.

The job ties the layers together: it records every id it learns at once, keeps a ``Tracker``
of the batch states, reads result files through a ``ResultReader`` and joins them onto the
DataFrame. How a job shows itself in a notebook (progress widget, review) is attached from
above through ``Job.views``, so this layer never imports widgets.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, Protocol

import pandas as pd

from .. import wire
from ..client import BatchClient
from ..config import Connection
from ..errors import ConflictError, DwError, JobError, NotFoundError
from ..progress.snapshot import JobSnapshot
from ..progress.terminal import TextProgress, in_kernel
from ..progress.text import format_progress
from . import create, retry
from .poller import Poller
from .reading import ResultReader, derived_ids, join_frame
from .registry import BatchRecord, Registry
from .tracking import Tracker

log = logging.getLogger(__name__)

Listener = Callable[[JobSnapshot], None]


class JobViews(Protocol):
    """How jobs show themselves in a notebook; supplied by the public layer."""

    def show(self, job: Job) -> None: ...

    def widget(self, job: Job) -> Any: ...

    def review(self, job: Job, **options: Any) -> Any: ...


class Job:
    """Batches for one DataFrame. Made by ``dw.submit`` or ``dw.attach``, not directly.

    >>> job = dw.submit(df, prompt="Sentiment of: {review}", model="mock")  # doctest: +SKIP
    >>> job                # a live progress widget; the kernel stays free
    >>> out = job.join()   # waits, then returns df with the answers joined by custom_id
    """

    #: Set by ``dw_notebook`` on import: the widgets that show a job in a notebook.
    views: ClassVar[JobViews | None] = None

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
        self.view: Any = None  # the live view ``Job.views`` made for this job, once shown
        self.service_estimate: float | None = None  # USD, from the service's own estimate
        self.new_attempt: int | None = None  # made by retry() here, not shown yet (its own output)
        self._client = client
        self._registry = registry
        self._lock = threading.RLock()
        self._records: list[BatchRecord] = list(records)
        self._tracker = Tracker(name=name, spec=spec, simulated=connection.simulated)
        self._reader = ResultReader(client)
        self._listeners: list[Listener] = []
        self._poller: Poller | None = None
        self._last_snapshot: JobSnapshot | None = None
        self._derived_ids: list[str | None] | None = None

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
        return f"<dw Job {self.name!r} {format_progress(self.snapshot())}>"

    # -- state -------------------------------------------------------------------------------

    def refresh(self) -> JobSnapshot:
        """Ask the service for the state of every unfinished batch; never raises on a poll."""
        with self._lock:
            self._tracker.poll(self._client, self.batch_ids, self._registry)
            snapshot = self.snapshot()
        self._emit(snapshot)
        return snapshot

    def snapshot(self) -> JobSnapshot:
        """The job's state as last seen (no network)."""
        with self._lock:
            attempts = [
                [r.batch_id for r in self._records if r.batch_id and r.attempt == k]
                for k in range(self.attempt + 1)
            ]
            snapshot = self._tracker.snapshot(attempts, estimated_cost=self.estimated_cost)
            self._last_snapshot = snapshot
            return snapshot

    @property
    def estimated_cost(self) -> float | None:
        """USD: the service's estimate where it gave one, else the local one (None: unknown)."""
        if self.service_estimate is not None:
            return self.service_estimate
        return getattr(self.estimate, "usd", None)

    @property
    def done(self) -> bool:
        snapshot = self._last_snapshot or self.snapshot()
        return snapshot.done

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

    def wait(self, timeout: float | None = None, *, progress: bool | None = None) -> Job:
        """Poll on this thread until every batch has ended.

        Progress shows as text in a terminal, and as the widget in a notebook (displayed here
        if the job was not shown yet).

        Ctrl-C stops waiting (the batches keep running) after offering to cancel them.
        """
        if progress is None:
            progress = not in_kernel()
            if (
                not progress
                and (self.view is None or self.new_attempt)
                and not self.snapshot().done
            ):
                self._ipython_display_()  # `dw.submit(...).join()`, `job.retry().join()` show it
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
            if not in_kernel():  # a script: the hint was printed, no traceback on top of it
                raise SystemExit(130) from None
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
            self._tracker.poll_error = str(exc)
            self._emit(self.snapshot())

    # -- results ---------------------------------------------------------------------------

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
        outputs, errors = self._reader.files(self.batch_ids, self._tracker.batches)
        return join_frame(self.df, self._ids(), self.spec, self._records, outputs, errors)

    def partial(self) -> pd.DataFrame:
        """The rows finished so far, joined like ``join()``; the others are ``not_run``.

        Each call reads only the lines not read before where the service can (Doubleword
        ``skip`` + ``X-Last-Line``) and adds them to the results parsed so far; a service whose
        output appears only at the end (OpenAI) gives results once finished.
        """
        self.refresh()
        results = self._reader.read_new(self.batch_ids, self._tracker.batches)
        return join_frame(self.df, self._ids(), self.spec, self._records, results=results)

    def _ids(self) -> Any:
        """The build (its ids per row), else ids derived from the DataFrame's index, once."""
        if self.built is not None:
            return self.built
        if self._derived_ids is None:
            self._derived_ids = derived_ids(self.df)
        return self._derived_ids

    def retry(self, *, truncated: bool = True, **body_overrides: Any) -> Job:
        """Resubmit only the rows that failed, expired, never ran or (``truncated``) hit
        ``max_tokens``, as a new attempt of this job; ``join()`` then merges the answers.

        >>> job.retry(max_tokens=512)   # doctest: +SKIP  (body fields to change for the retry)
        """
        out = self.join()
        ids = self.built.row_ids if self.built is not None else self._ids()
        wanted = retry.ids_to_retry(out, ids, truncated=truncated)
        if not wanted:
            raise JobError(f"nothing to retry: every row of job {self.name!r} has an answer")
        lines = [retry.override(line, body_overrides) for line in self._input_lines(wanted)]
        chunks = retry.pack(
            lines,
            self.spec.get("max_requests", wire.MAX_REQUESTS_PER_FILE),
            self.spec.get("max_bytes", wire.MAX_FILE_BYTES),
        )
        self._tracker.expected[self.attempt + 1] = len(lines)
        self.create_batches(chunks, attempt=self.attempt + 1)
        self.new_attempt = self.attempt
        if self._poller is not None:
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
                lines += retry.lines_of(self._reader.download(record.input_file_id), wanted)
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
                file_id = self._upload(data, attempt, chunk)
            tag = create.batch_tag(self.id, attempt, chunk)
            batch = create.create_batch(self._client, file_id, self.spec, tag)
            self._registry.record_batch(self.id, attempt, chunk, batch["id"], batch["status"])
            self._add_record(
                BatchRecord(self.id, attempt, chunk, file_id, batch["id"], batch["status"])
            )
            self._tracker.batches[batch["id"]] = batch

    def _upload(self, data: Any, attempt: int, chunk: int) -> str:
        payload = data if isinstance(data, bytes) else data.data
        file_id = self._client.upload_file(
            payload, filename=f"{self.name}-{attempt}-{chunk}.jsonl"
        )["id"]
        del payload
        estimate = create.service_estimate(self._client, file_id, self.spec["window"])
        if estimate is not None:
            usd, answer = estimate
            self.service_estimate = (self.service_estimate or 0.0) + usd
            create.refuse_over_budget(
                self._client, file_id, self.service_estimate, self.spec.get("budget"), answer
            )
        self._registry.record_file(self.id, attempt, chunk, file_id)
        self._add_record(BatchRecord(self.id, attempt, chunk, file_id, None, None))
        return file_id

    # -- in a notebook -------------------------------------------------------------------------

    def _views(self) -> JobViews:
        if Job.views is None:
            raise JobError("the notebook views of jobs come with `import dw_notebook`")
        return Job.views

    def widget(self) -> Any:
        """The live progress widget of this job (one per job)."""
        return self._views().widget(self)

    def review(self, **options: Any) -> Any:
        """A widget to review the results: label charts, failed rows, prompts beside answers."""
        return self._views().review(self, **options)

    def _ipython_display_(self) -> None:
        if Job.views is None:
            print(repr(self))
        else:
            Job.views.show(self)
