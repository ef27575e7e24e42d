"""A job: the batches made for one DataFrame, their ids in the registry, and the commands on them.

The job ties the layers together: it records every id it learns at once, keeps a ``Tracker``
of the batch states, reads result files through a ``ResultReader`` and joins them onto the
DataFrame. How a job shows itself in a notebook (progress widget, review) is attached from
above through ``Job.views``, so this layer never imports widgets.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, ClassVar, Protocol

import orjson
import pandas as pd

from .. import wire
from ..client import DEFAULT_PATIENCE, BatchClient, BusyWatch
from ..config import Connection
from ..errors import DwError, JobError, MissingResultFileError
from ..jsonl.requests import make_custom_ids
from ..jsonl.requests.dataset import open_dataset
from ..jsonl.results.counts import row_counts
from ..jsonl.results.join import output_columns
from ..progress.snapshot import JobSnapshot
from ..progress.terminal import TextProgress, in_kernel
from ..progress.text import format_progress
from . import create, pieces, pilot, pilot_findings, pilot_view, reading, retry
from .batch_errors import rows_of_batch_errors
from .batches import BatchCreation
from .cache import ResultCache
from .matching import check_joined, match_rows, sent_ids
from .poller import Poller
from .reading import ResultReader, join_frame
from .registry import BatchRecord, Registry
from .sending import Sender, SendProgress, SubmitThread
from .tracking import Tracker, lost_message

log = logging.getLogger(__name__)

Listener = Callable[[JobSnapshot], None]

#: job id -> the newest Job of this kernel made with its DataFrame (what the dashboard's Proceed
#: needs: the rest of a pilot is built from the frame); weak, so a job is kept by its user only.
_with_frame: weakref.WeakValueDictionary[str, Job] = weakref.WeakValueDictionary()


def job_with_frame(job_id: str) -> Job | None:
    """The Job of this kernel that has ``job_id``'s DataFrame and build, if one is alive."""
    return _with_frame.get(job_id)


class JobViews(Protocol):
    """How jobs show themselves in a notebook; supplied by the public layer."""

    def show(self, job: Job) -> None: ...

    def view(self, job: Job) -> Any: ...

    def widget(self, job: Job) -> Any: ...

    def review(self, job: Job, **options: Any) -> Any: ...


class Job(BatchCreation, SubmitThread):
    """Batches for one DataFrame. Made by ``dw.submit`` or ``dw.attach``, not directly.

    >>> job = dw.submit(df, prompt="Sentiment of: {review}", model="mock")  # doctest: +SKIP
    >>> job                # a live progress widget; the kernel stays free
    >>> out = job.join()   # waits, then returns df with the answers joined by custom_id
    """

    #: Set by ``dw_notebook`` on import: the widgets that show a job in a notebook.
    views: ClassVar[JobViews | None] = None
    #: The build arguments ``submit`` used (``proceed(prompt=...)`` rebuilds the rest from them).
    build_args: dict[str, Any] | None = None
    #: What ``proceed`` changed for the rest after a pilot (a retry sends rows the same way).
    pilot_changes: dict[str, Any] | None = None

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
        service: str | None = None,
    ) -> None:
        self.id = job_id
        self.service = service or connection.service_key  # where the batches were created
        self.name = name
        self.spec = spec
        self.df = df
        self.built = built
        self.estimate = estimate
        self.connection = connection
        self.view: Any = None  # the live view ``Job.views`` made for this job, once shown
        self.pilot_view: dict[str, Any] | None = None  # the ended pilot's report, as plain data
        self.service_estimate: float | None = None  # USD, from the service's own estimate
        self.new_attempt: int | None = None  # made by retry() here, not shown yet (its own output)
        #: refusals (429/503) the job's calls are waiting out, shown in its progress
        self.busy = BusyWatch(spec.get("patience", DEFAULT_PATIENCE))
        self._client = client.watched(self.busy)
        self._registry = registry
        self._lock = threading.RLock()
        self._records: list[BatchRecord] = list(records)
        self._tracker = Tracker(name=name, spec=spec, simulated=connection.answers_simulated)
        self._reader = ResultReader(self._client, ResultCache(registry, connection.service_key))
        trust_404 = connection.simulated or self.service != connection.service_key
        self._tracker.trust_404 = self._reader.trust_404 = trust_404
        self._listeners: list[Listener] = []
        self._poller: Poller | None = None
        self._last_snapshot: JobSnapshot | None = None
        self._derived_ids: list[str | None] | None = None
        self._errors_read: set[str] = set()  # batches whose errors.data partial() has added
        #: True while the job id was minted by this call and nothing was sent: the service
        #: cannot know it yet, so the look-up before creating is skipped.
        self.fresh = False
        self.poll_interval: float | None = None  # seconds between polls in wait(); None: default
        self.send_progress = SendProgress()  # the steps of the last create_batches
        self._sender: Sender | None = None  # the submit's steps on a background thread
        self._cancel_when_sent = False  # cancel() asked while the submit was still sending
        if built is not None:
            _with_frame[job_id] = self

    # -- identity ----------------------------------------------------------------------------

    @property
    def batch_ids(self) -> list[str]:
        """Every batch id of this job, all attempts, in creation order."""
        return [r.batch_id for r in self._records if r.batch_id]

    @property
    def source_columns(self) -> list[str] | None:
        """The columns of the rows the job was submitted with (the frame's or the dataset's)."""
        if self.df is not None:
            return list(self.df.columns)
        if source := self.spec.get("dataset"):
            return open_dataset(source["paths"], source["format"]).schema.names
        return None

    def _current_batch_ids(self) -> list[str]:
        attempt = self.attempt
        return [r.batch_id for r in self._records if r.batch_id and r.attempt == attempt]

    def __repr__(self) -> str:
        return f"<dw Job {self.name!r} {format_progress(self.snapshot())}>"

    # -- state -------------------------------------------------------------------------------

    def refresh(self) -> JobSnapshot:
        """Ask the service for the state of every unfinished batch; never raises on a poll."""
        with self._lock:
            try:
                if not self.busy.waiting("GET"):  # polls refused: ask again after Retry-After
                    self._tracker.poll(self._client, self.batch_ids, self._registry)
            except Exception as exc:  # a poll never raises: the reason shows in the snapshot
                log.warning("dw-notebook: poll failed", exc_info=True)
                self._tracker.poll_error = f"{type(exc).__name__}: {exc}"
            if self._tracker.lost:
                self._tracker.poll_error = lost_message(self)
            pilot_view.read_view(self)
            snapshot = self.snapshot()
        if self._over_budget(snapshot):
            return self.refresh()  # the cancelled state, with the reason
        self._emit(snapshot)
        return snapshot

    def _over_budget(self, snapshot: JobSnapshot) -> bool:
        """A running job whose measured spend has passed ``budget=`` is cancelled (once)."""
        budget = self.spec.get("budget")
        spent = sum(b.cost for b in snapshot.batches if b.cost)
        if budget is None or snapshot.done or self._tracker.budget_stop or spent <= budget:
            return False
        self._tracker.budget_stop = (
            f"cancelled: the measured spend ${spent:.4f} passed budget=${budget:.4f} (outputs "
            "ran longer than estimated); rows answered so far are kept"
        )
        log.warning("dw-notebook: job %r %s", self.name, self._tracker.budget_stop)
        self.cancel()
        return True

    def snapshot(self) -> JobSnapshot:
        """The job's state as last seen (no network)."""
        with self._lock:
            attempts = [
                [r.batch_id for r in self._records if r.batch_id and r.attempt == k]
                for k in range(self.attempt + 1)
            ]
            snapshot = self._tracker.snapshot(
                attempts,
                estimated_cost=self.estimated_cost,
                sending=self._sending_snapshot(),
                busy=self.busy.text(),
            )
            if self.spec.get("pilot"):
                snapshot = pilot_view.with_fix_hint(replace(snapshot, pilot=pilot_view.view(self)))
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
        self._raise_send_error()
        if not self.sending:
            self._refuse_unsubmitted()
        if progress is None:
            progress = not in_kernel()
            if (
                not progress
                and (self.view is None or self.new_attempt)
                and not self.snapshot().done
            ):
                self._ipython_display_()  # `dw.submit(...).join()`, `job.retry().join()` show it
        left = self.busy.left()
        if left is not None and left <= 0:
            self.busy.answered()  # a new wait after patience ran out: ask again now
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = self.poll_interval or (0.25 if self.connection.simulated else 3.0)
        printer = TextProgress() if progress and not self.done else None
        try:
            while True:
                sending = self.sending
                snapshot = self.refresh()
                if self._sender is not None and self._sender.exception is not None:
                    if printer:
                        printer.close(snapshot)
                    self._raise_send_error()
                if self._tracker.lost:
                    raise JobError(lost_message(self))
                self._check_patience()
                if printer:
                    printer.show(snapshot)
                if sending and not self.sending:  # the submit's steps just ended
                    self._raise_send_error()  # what stopped them, if they failed meanwhile
                    self._refuse_unsubmitted()
                    continue
                if snapshot.done:
                    if printer:
                        printer.close(snapshot)
                    return self
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"job {self.name!r} not finished after {timeout} s")
                if self._sender is not None and self._sender.running:
                    self._sender.join(interval)  # wakes as soon as the batches exist
                else:
                    time.sleep(interval if not snapshot.poll_error else min(interval * 4, 30))
        except KeyboardInterrupt:
            self._on_interrupt()
            if not in_kernel():  # a script: the hint was printed, no traceback on top of it
                raise SystemExit(130) from None
            raise

    @property
    def patience(self) -> float | None:
        """Seconds the job waits out a service that refuses (429/503) before it stops."""
        return self.busy.patience

    @patience.setter
    def patience(self, seconds: float | None) -> None:
        self.busy.patience = seconds
        self.spec["patience"] = seconds

    def _check_patience(self) -> None:
        """Polls refused for longer than ``patience``: stop waiting, with the reason."""
        left, busy = self.busy.left(), self.busy.state
        # refused uploads and creates end on the submit's thread, with ServiceBusyError
        if busy is not None and busy.route.startswith("GET") and left is not None and left <= 0:
            raise JobError(
                f"job {self.name!r}: {self.busy.text()}; stopped waiting after patience="
                f"{self.patience:g} s. The batches keep running on the service: wait again "
                f"later (job.wait()), or dw.attach({self.name!r}, df)"
            )

    def _refuse_unsubmitted(self) -> None:
        """A job whose batches were never all created would wait forever: say what to run."""
        missing = self.missing_chunks()
        if self._current_batch_ids() and not missing:
            return
        plural = "batch" if len(missing) == 1 else "batches"
        what = f"{len(missing)} {plural} never created" if missing else "no batch"
        raise JobError(
            f"job {self.name!r} has {what} (its submit stopped half-way); run "
            f"dw.attach({self.name!r}, df) with the DataFrame it was submitted with, or re-run "
            "the submit cell, to create them without paying twice"
        )

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
        """Cancel every batch that has not ended (finished ones keep their state); results so
        far are kept and join as usual. While the submit is still uploading, the batches that
        exist are cancelled now and the others as soon as they exist."""
        if self.sending:
            self._cancel_when_sent = True
        # Doubleword accepts a cancel on any batch and relabels a finished one `cancelled` from
        # then on: ask for the states first, and cancel only what has not ended
        self.refresh()
        with self._lock:
            running = [
                batch_id
                for batch_id in self._current_batch_ids()
                if (self._tracker.batches.get(batch_id) or {}).get("status")
                not in wire.TERMINAL_STATUSES | {wire.CANCELLING}
            ]
        for batch_id in running:
            create.cancel_quietly(self._client, batch_id)  # finished meanwhile, or gone: kept
        if self.sending:
            return self.snapshot()
        snapshot = self.refresh()
        if self._poller is not None:
            self._poller.poke()
        return snapshot

    def handle_command(self, command: str, **options: Any) -> None:
        """Commands sent by widgets ('cancel', 'refresh', 'proceed' with its ``window``); errors
        of cancel and refresh are reported in the snapshot, a refused proceed raises (the
        widget shows why and offers the button again)."""
        if command == "proceed":
            self.proceed(**options)
            self.start_polling()
            return
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

    def join(
        self,
        *,
        wait: bool = True,
        timeout: float | None = None,
        missing_files: str = "raise",
        path: str | os.PathLike | None = None,
    ) -> Any:
        """A copy of the DataFrame with result columns, joined by custom_id.

        ``path="labelled.parquet"`` writes the same rows and columns to a parquet file a piece
        at a time instead (returns the path): for a dataset source the files are read again
        record batch by record batch, so memory stays bounded by one batch. ``join()`` without
        a path on a dataset source reads the whole dataset into one frame.

        Columns: the answer (``content`` or one per schema field), ``status``, ``error``,
        ``finish_reason``, ``prompt_tokens``, ``completion_tokens``, ``batch_id``, ``attempt``.
        After ``retry()`` each row shows its latest answer (an answer beats a failure).
        With ``dw.submit(..., output_prefix="dw_")`` they are ``dw_content``, ``dw_status``, ...

        An output or error file that the service no longer has raises
        ``MissingResultFileError`` (naming the batch and the file) while rows without any line
        remain, because their outcome is unknown; ``missing_files="not_run"`` joins the rest
        and leaves those rows ``not_run``.
        """
        out = self._join(wait=wait, timeout=timeout, missing_files=missing_files, path=path)
        return self._prefixed(out)

    def partial(self) -> pd.DataFrame:
        """The rows finished so far, joined like ``join()``; the others are ``not_run``.

        Each call reads only the lines not read before where the service can (Doubleword
        ``skip`` + ``X-Last-Line``) and adds them to the results parsed so far; a service whose
        output appears only at the end (OpenAI) gives results once finished.
        """
        return self._prefixed(self._partial())

    def _prefixed(self, out: Any) -> Any:
        """The result columns renamed with ``output_prefix=`` (never the user's columns;
        ``path=`` writes them unrenamed)."""
        prefix = self.spec.get("output_prefix")
        if not prefix or not isinstance(out, pd.DataFrame):
            return out
        theirs = list(self.source_columns or ())
        ours = output_columns(
            self.spec["endpoint"], self.spec.get("schema"), tools=True,
            extra=("attempt", "phase", "earlier_prompt"),
        )  # fmt: skip
        renamed = out.rename(columns={c: prefix + c for c in out.columns if c not in theirs})
        if self.df is not None:  # a column of theirs the join wrote ours into: both, apart
            for c in (c for c in theirs if c in ours and c in out.columns):
                renamed[prefix + c] = out[c]
                renamed[c] = self.df[c].to_numpy()
        return renamed

    def _join(
        self,
        *,
        wait: bool = True,
        timeout: float | None = None,
        missing_files: str = "raise",
        path: str | os.PathLike | None = None,
    ) -> Any:
        if missing_files not in ("raise", "not_run"):
            raise ValueError("missing_files must be 'raise' or 'not_run'")
        if wait:
            self.wait(timeout)
        elif not self.done:
            raise JobError(f"job {self.name!r} is still running; use job.partial() or wait")
        self._raise_send_error()  # a submit that stopped is done, but has no answers to join
        if self.spec.get("dataset"):  # read again record batch by record batch
            return self._join_pieces(pieces.ChunkWindow(self, missing_files), path)
        results, gone = self._reader.finished_results(
            self.batch_ids, self._tracker.batches, self._batch_error_lines
        )
        if path is not None:
            if gone and missing_files == "raise":
                raise MissingResultFileError(gone)
            return self._join_pieces(pieces.Whole(results), path)
        out = join_frame(self.df, self._ids(), self.spec, self._records, results=results)
        self._note_lines(out, ended=True)
        if self.built is None:  # ids derived for an attached frame: is it the job's frame?
            check_joined(out, self.name)
        unknown = int(out["status"].eq("not_run").sum()) if gone else 0
        if unknown and missing_files == "raise":  # rows answered by another attempt are known
            raise MissingResultFileError(gone, unknown)
        return pilot.label(out, self.spec)

    def _join_pieces(self, results: Any, path: Any) -> Any:
        """``join`` a piece at a time: to a parquet file, or (a dataset source) one frame."""
        if self.spec.get("pilot"):
            raise JobError("join(path=) does not take a pilot job; use job.join().to_parquet()")
        if self.df is None and not self.spec.get("dataset"):
            raise JobError("this job has no DataFrame; attach it with dw.attach(name, df)")
        if path is None:
            out = pieces.gather(self, results)
            self._note_lines(out, ended=True)
            return out
        written, attrs = pieces.write(self, results, path)
        self._note_lines(attrs)
        return written

    def _partial(self) -> pd.DataFrame:
        self.refresh()
        results = self._reader.read_new(self.batch_ids, self._tracker.batches)
        for batch_id, data, _ in self._batch_error_lines(skip=self._errors_read):
            results.add(data, batch_id, f"errors of batch {batch_id}")
            self._errors_read.add(batch_id)
        if self.spec.get("dataset"):
            out = pieces.gather(self, pieces.Whole(results))
        else:
            out = join_frame(self.df, self._ids(), self.spec, self._records, results=results)
        self._note_lines(out, ended=self.done)
        return pilot.label(out, self.spec)

    def _note_lines(self, out: pd.DataFrame | dict[str, Any], *, ended: bool = False) -> None:
        """Counts of result lines read leniently or not at all (a join's ``attrs``), and the
        rows by outcome of a join of the ended job, for the progress views."""
        with self._lock:
            changed = self._tracker.note_lines(out if isinstance(out, dict) else out.attrs)
            if ended and isinstance(out, pd.DataFrame):
                counts = row_counts(out, first_retry=2 if self.spec.get("pilot") else 1)
                changed |= self._tracker.note_rows(counts.to_dict(), self.attempt + 1)
        if changed:
            self._emit(self.snapshot())

    def _batch_error_lines(self, skip: set[str] = frozenset()) -> list[tuple[str, bytes, str]]:
        """Error lines for the rows named by finished batches' own errors (``errors.data``)."""
        records = [r for r in self._records if r.batch_id not in skip]
        return rows_of_batch_errors(records, self._tracker.batches, self._reader.input_file,
                                    self.built, self.spec)  # fmt: skip

    def match_frame(self) -> None:
        """Match this job's DataFrame to the requests it sent when the frame is not the exact one
        submitted (sorted, filtered, new columns); raises ``JobError`` with the count of
        matching rows and the fix when fewer than most rows match."""
        sent = sent_ids(self._records, self.spec, self._client.get_batch, self._reader.input_file)
        if sent and self.df is not None:
            self.built = None
            self._derived_ids = match_rows(self.df, self.spec, sent, self.name)

    def _ids(self) -> Any:
        """The build (its ids per row), else ids derived from the DataFrame's index, once."""
        if self.built is not None:
            return self.built
        if self._derived_ids is None:
            self._derived_ids = make_custom_ids(self.df.index)
        return self._derived_ids

    def retry(
        self,
        *,
        truncated: bool = True,
        unreadable: bool = False,
        unknown: bool = False,
        unparsed: bool = True,
        send_unchanged: bool = False,
        schema_hint: bool = False,
        **body_overrides: Any,
    ) -> Job:
        """Resubmit only the rows that failed, expired, never ran, (``truncated``) hit
        ``max_tokens`` or (``unparsed``) answered but did not parse against the schema, as a new
        attempt of this job; ``join()`` then merges the answers.

        Rows whose answer came back but could not be read (``unreadable``) were paid for, and
        rows whose result file is gone from the service have an unknown outcome: neither is
        sent again unless asked (``unreadable=True``, ``unknown=True``).

        Rows cut off at a cap are not sent again with no more room, nor unparsed rows as the
        same request: that raises ``RepeatedCauseError`` naming the fix (``max_tokens=64``,
        ``schema_hint=True``: the schema added to the system prompt); ``send_unchanged=True``
        sends them as they are.

        >>> job.retry(max_tokens=512)   # doctest: +SKIP  (body fields to change for the retry)
        """
        if self.spec.get("pilot") and not self.spec["pilot"].get("proceeded"):
            raise JobError("this job is still a pilot: send the rest with job.proceed() first")
        self._recheck_unsettled()
        if self.spec.get("dataset"):  # read again a record batch at a time
            self.wait()
            results = pieces.ChunkWindow(self, "not_run" if unknown else "raise")
            wanted = pieces.ids_to_retry(self, results, truncated=truncated, unreadable=unreadable)
            out = None
        else:
            out = self._join(missing_files="not_run" if unknown else "raise")
            ids = self.built.row_ids if self.built is not None else self._ids()
            wanted = retry.ids_to_retry(
                out, ids, truncated=truncated, unreadable=unreadable, unparsed=unparsed
            )
        wanted = self._settled_only(wanted)
        if not wanted:
            raise JobError(f"nothing to retry: every row of job {self.name!r} has an answer")
        lines = [retry.override(line, body_overrides) for line in self._input_lines(wanted)]
        if schema_hint:
            hint = pilot_findings.schema_hint(orjson.loads(lines[0])["body"]) if lines else None
            if hint is None:
                raise JobError("schema_hint=True needs a response_format schema; this job has none")
            lines = [pilot_findings.with_schema_hint(line, hint) for line in lines]
        if out is not None and not send_unchanged:
            changed = {**body_overrides, **({"schema_hint": True} if schema_hint else {})}
            pilot_findings.check_retry(out, ids, wanted, lines, changed)
        chunks = retry.pack_for(self.spec, lines)
        self._tracker.expected[self.attempt + 1] = len(lines)
        self.create_batches(chunks, attempt=self.attempt + 1)
        self.new_attempt = self.attempt
        if self._poller is not None:
            self.start_polling()
        return self

    def _recheck_unsettled(self) -> None:
        """Ask again for the ended batches whose results were not settled when last read (their
        counts may have grown since)."""
        for batch_id in [b for b in self.batch_ids if b in self._reader.unsettled]:
            try:
                batch = self._client.get_batch(batch_id)
            except DwError:
                continue  # the last state read stands; the files are read again anyway
            with self._lock:
                self._tracker._seen(batch_id, batch, self._registry)

    def _settled_only(self, wanted: set[str]) -> set[str]:
        """``wanted`` without the rows of ended batches whose files are not settled yet: their
        requests may still be answered, and billed (Doubleword finishes the requests in flight
        at a cancel after the batch reads `cancelled`). Raises when that leaves nothing."""
        held_batches = [b for b in self.batch_ids if b in self._reader.unsettled]
        if not held_batches or not wanted:
            return wanted
        held: set[str] = set()
        for record in self._records:
            if record.batch_id in held_batches and record.input_file_id:
                held |= retry.ids_in(self._reader.input_file(record.input_file_id), wanted)
        if not held:
            return wanted
        why = (
            f"{len(held):,} rows of batch {', '.join(held_batches)} may still be answered and "
            "billed: requests in flight at a cancel finish afterwards (for up to "
            f"{reading.SETTLE_AFTER_CANCEL_S / 60:g} min), or the service has not written a "
            "line for every request it counts yet"
        )
        if held == wanted:
            raise JobError(f"{why}; nothing was sent again. Run job.retry() again later")
        warnings.warn(f"{why}; they are not sent again now: run job.retry() again later",
                      stacklevel=3)  # fmt: skip
        return wanted - held

    def _input_lines(self, wanted: set[str]) -> list[bytes]:
        """The request lines of the given custom_ids, as last sent (``proceed`` may change)."""
        changed = pilot.lines_for(self, wanted)
        if changed is not None:
            return changed
        if self.built is not None:
            index = {cid: i for i, cid in enumerate(self.built.custom_ids)}
            return [self.built.line(index[cid]) for cid in sorted(wanted, key=index.__getitem__)]
        lines = []
        for record in self._records:
            if pilot.first_send(record.attempt, self.spec) and record.input_file_id:
                lines += retry.lines_of(self._reader.input_file(record.input_file_id), wanted)
        return lines

    def pilot_report(self, timeout: float | None = None) -> Any:
        """The pilot's answers, measured tokens per row and the rest's extrapolated cost."""
        return pilot.report(self, timeout=timeout)

    def proceed(
        self,
        *,
        window: str | None = None,
        budget: float | None = None,
        send_unchanged: bool = False,
        **changes: Any,
    ) -> Job:
        """After a pilot, send the rows it did not (attempt 1); ``changes`` (prompt, system,
        examples, body fields, ``schema_hint=True``: the schema added to the system prompt)
        apply to them only. See ``dw_notebook.job.pilot``.

        When the pilot's answers were cut off at ``max_tokens`` or did not parse against the
        schema, and ``changes`` do not fix that, raises ``RepeatedCauseError`` naming the fix
        (``job.proceed(max_tokens=64)``); ``send_unchanged=True`` sends the rest anyway.

        >>> job.proceed(window="24h", max_tokens=64)   # doctest: +SKIP
        """
        pilot.proceed(self, window=window, budget=budget, changes=changes,
                      send_unchanged=send_unchanged)  # fmt: skip
        if self._poller is not None:
            self.start_polling()
        return self

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

    # How front ends show a job. Jupyter (and VS Code, Colab: IPython kernels) call
    # _ipython_display_ first and ask nothing else, so the widget is shown once, under a display
    # id that later takes its static end state. marimo asks _display_ for the object to show
    # (the anywidget, rendered natively). Other tools that take a mimebundle get the widget's:
    # its view, its static HTML and its text.

    def _ipython_display_(self) -> None:
        if Job.views is None:
            print(repr(self))
        else:
            Job.views.show(self)

    def _display_(self) -> Any:
        widget = Job.views.view(self) if Job.views is not None else None
        return repr(self) if widget is None else widget

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        widget = Job.views.view(self) if Job.views is not None else None
        bundle = widget._repr_mimebundle_() if widget is not None else None
        return bundle or {"text/plain": repr(self)}
