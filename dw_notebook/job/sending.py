"""A submit's steps before its batches exist, on a background thread, so the cell returns at once.

Uploading the request files and creating the batches run on one thread per submit; their
progress (files and bytes sent, rate, batches created) goes into the job's snapshots, and the
error that stops them is kept for ``wait()`` / ``join()`` to raise and for the views to show.
The registry guarantees are those of ``create_batches``: the job is recorded before the thread
starts and every id as soon as the service returns it, so a re-run or ``attach`` after a
failure (or a kernel restart) finishes the submit without paying twice. While the thread runs,
a re-run of the same submit in this process gets the same job back instead of sending again.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..errors import BudgetExceededError, DwError
from ..progress.snapshot import SendingSnapshot

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Uploads (and result downloads) at once. More parallel streams barely add throughput on one
#: link (a service takes a file in at its own pace) while every one holds a file's bytes in
#: memory; three hide the round trips and the service's per-file work between them.
TRANSFERS_AT_ONCE = 3

RETRY_NOTE = (
    "Nothing is lost: every id the service returned is recorded. Run the same submit cell again "
    "(or dw.attach(name, df)) to finish the submit without paying twice."
)

_running: dict[str, Any] = {}  # job id -> the job whose submit is still sending, this process
_running_lock = threading.Lock()


def bounded(tasks: Sequence[Callable[[], T]], at_once: int = TRANSFERS_AT_ONCE) -> list[T]:
    """The results of ``tasks``, run ``at_once`` at a time, in order; every task ends before
    the first error is raised (so each id a task recorded is kept). Plain threads, since these
    run on after a script's main thread has ended, where ``concurrent.futures`` takes no work."""
    results: list[Any] = [None] * len(tasks)
    errors: list[BaseException | None] = [None] * len(tasks)
    todo = iter(range(len(tasks)))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                i = next(todo, None)
            if i is None:
                return
            try:
                results[i] = tasks[i]()
            except BaseException as exc:  # raised below, once every task has ended
                errors[i] = exc

    threads = [threading.Thread(target=worker, name="dw-notebook-transfer")
               for _ in range(min(at_once, len(tasks)))]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for error in errors:
        if error is not None:
            raise error
    return results


def running_job(job_id: str) -> Any | None:
    """The job of this process still sending its submit under this id, if any."""
    with _running_lock:
        return _running.get(job_id)


class SendProgress:
    """Counters of one submit's steps, written by the upload threads, read by snapshots."""

    def __init__(self, rows: int = 0, on_change: Callable[[], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._on_change = on_change  # told of each phase and file (not of every byte)
        self.phase = "building"
        self.rows = rows
        self.files_total = self.files_done = 0
        self.bytes_total = 0
        self.batches_total = self.batches_done = 0
        self._sent: dict[int, int] = {}  # chunk -> bytes of its upload sent so far
        self._upload_started: float | None = None
        self.error: str | None = None

    def uploading(self, sizes: dict[int, int], batches: int = 0) -> None:
        """Files of these sizes (by chunk) are to be uploaded, and with ``batches`` that many
        batches created as their files arrive."""
        with self._lock:
            self.phase = "uploading" if sizes or not batches else "creating"  # files all there
            self.files_total, self.files_done = len(sizes), 0
            self.bytes_total = sum(sizes.values())
            self.batches_total, self.batches_done = batches, 0
            self._sent = dict.fromkeys(sizes, 0)
            self._upload_started = time.monotonic()
        self._changed()

    def sent(self, chunk: int, position: int) -> None:
        """An upload's body has been read up to ``position`` (it restarts at 0 on a retry)."""
        with self._lock:
            self._sent[chunk] = position

    def uploaded(self, chunk: int, size: int) -> None:
        with self._lock:
            self._sent[chunk] = size
            self.files_done += 1
            if self.files_done == self.files_total and self.batches_done < self.batches_total:
                self.phase = "creating"  # the last creates
        self._changed()

    def creating(self, n: int) -> None:
        with self._lock:
            self.phase, self.batches_total, self.batches_done = "creating", n, 0
        self._changed()

    def created(self) -> None:
        with self._lock:
            self.batches_done += 1
        self._changed()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()

    def snapshot(self) -> SendingSnapshot:
        with self._lock:
            done = sum(self._sent.values())
            rate = None
            if self._upload_started is not None and done:
                rate = done / max(time.monotonic() - self._upload_started, 1e-3)
            return SendingSnapshot(
                self.phase,
                rows=self.rows,
                files_done=self.files_done,
                files_total=self.files_total,
                bytes_done=done,
                bytes_total=self.bytes_total,
                rate=rate,
                batches_done=self.batches_done,
                batches_total=self.batches_total,
                error=self.error,
            )


class CountingReader(io.BytesIO):
    """An upload body that reports how far it has been read (what has gone to the socket)."""

    def __init__(self, data: bytes, on_read: Callable[[int], None]) -> None:
        super().__init__(data)
        self._on_read = on_read

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self._on_read(self.tell())
        return chunk


class Sender:
    """Runs ``work`` (the uploads and creates of a submit) on its own thread for ``job``."""

    def __init__(self, job: Any, work: Callable[[], None], progress: SendProgress) -> None:
        self.progress = progress
        self.exception: BaseException | None = None
        self._job = job
        self._work = work
        self._ended = threading.Event()
        # not a daemon: a script that submits and ends still creates its batches before exiting
        self._thread = threading.Thread(target=self._run, name="dw-notebook-submit")

    def start(self) -> Sender:
        with _running_lock:
            _running[self._job.id] = self._job
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return not self._ended.is_set()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the steps have ended (not for the views to hear of it)."""
        self._ended.wait(timeout)

    def _run(self) -> None:
        try:
            self._work()
        except BaseException as exc:  # kept for wait()/join() and shown by the views
            log.info("dw-notebook: submit of job %s stopped: %s", self._job.name, exc)
            if not isinstance(exc, BudgetExceededError):  # a re-run is refused the same way
                exc.add_note(RETRY_NOTE)
            self.exception = exc
            self.progress.error = f"{type(exc).__name__}: {exc}"
        finally:
            with _running_lock:
                _running.pop(self._job.id, None)
            self._ended.set()
        self._job.on_sent()


class SubmitThread:
    """The part of ``Job`` that runs its submit's steps on a thread (a mixin: ``Job`` holds
    the state and the commands used here)."""

    id: str
    name: str
    spec: dict[str, Any]
    send_progress: SendProgress
    _sender: Sender | None
    _cancel_when_sent: bool
    _poller: Any
    _tracker: Any
    _emit: Callable[[Any], None]
    snapshot: Callable[[], Any]
    cancel: Callable[[], Any]

    def send_in_background(self, work: Callable[[], None]) -> None:
        """Run ``work`` (the uploads and creates of a submit) on a background thread; its
        progress shows in the snapshots and its error is raised by ``wait()`` / ``join()``."""
        self.send_progress = SendProgress(
            rows=int(self.spec.get("n_requests") or 0),
            on_change=lambda: self._emit(self.snapshot()),
        )
        self._sender = Sender(self, work, self.send_progress)
        self._sender.start()

    @property
    def sending(self) -> bool:
        """True while the submit's uploads and creates run on their background thread."""
        return self._sender is not None and self._sender.running

    def on_sent(self) -> None:
        """The background steps have ended: show it, and poll the new batches at once."""
        if self._cancel_when_sent:
            self._cancel_when_sent = False  # this submit's: a later retry or proceed is not
            try:
                self.cancel()
            except DwError as exc:
                self._tracker.poll_error = f"could not cancel: {exc}"
        self._emit(self.snapshot())
        if self._poller is not None:
            self._poller.poke()

    def wait_submitted(self, timeout: float | None = None) -> Any:
        """Wait until the submit's batches exist (its uploads and creates have ended), not for
        their answers; raises what stopped them.

        >>> job = dw.submit(df, "Sentiment: {review}", model="mock")  # doctest: +SKIP
        >>> job.wait_submitted().batch_ids                             # doctest: +SKIP
        """
        if self._sender is not None:
            self._sender.join(timeout)
            if self._sender.running:
                raise TimeoutError(f"job {self.name!r} still uploading after {timeout} s")
        self._raise_send_error()
        return self

    def _raise_send_error(self) -> None:
        if self._sender is not None and self._sender.exception is not None:
            raise self._sender.exception

    def _sending_snapshot(self) -> SendingSnapshot | None:
        """The steps' progress while they run or after they failed; None once the batches exist."""
        sender = self._sender
        if sender is not None and (sender.running or sender.exception is not None):
            return sender.progress.snapshot()
        return None
