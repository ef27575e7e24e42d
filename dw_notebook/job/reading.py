"""A job's result files: downloads, partial reads of growing files, and the join onto the frame."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any, TypeVar

import pandas as pd

from .. import wire
from ..client import BatchClient
from ..errors import DwError, JobError, NotFoundError
from ..jsonl.results import ResultTable, join_results, parse_results
from .cache import ResultCache
from .registry import BatchRecord
from .sending import bounded

Files = list[tuple[str, bytes, str]]  # (batch id, content, file id)

#: Seconds after a cancel during which requests that were in flight may still finish, be
#: written to the output file and billed (Doubleword reads `cancelled` at once; its engine
#: gives a request up to 10 minutes, ``processing_timeout_ms``).
SETTLE_AFTER_CANCEL_S = 600.0
T = TypeVar("T")


def _parse_file(batch_id: str, kind: str, data: bytes, file_id: str) -> ResultTable:
    """One output or error file's lines, named in reports as ``parse_results`` names them."""
    file = [(batch_id, data, file_id)]
    return parse_results(outputs=file) if kind == "output" else parse_results(errors=file)


class ResultReader:
    """Reads the output and error files of a job's batches, whole or a page at a time."""

    def __init__(self, client: BatchClient, cache: ResultCache | None = None) -> None:
        self._client = client
        self._cache = cache
        self._partial: ResultTable | None = None  # results read so far by read_new()
        self._lines_read: dict[str, int] = {}  # per growing file
        self._parsed: tuple[tuple[str, ...], ResultTable] | None = None  # of ended batches
        #: ended batches whose files do not yet hold a line for every request the service
        #: counts, or still grow (Doubleword: requests in flight at a cancel finish, and are
        #: billed, after the batch reads `cancelled`): their rows are not settled
        self.unsettled: set[str] = set()
        self.trust_404 = True  # False: a 404 may be a read outage (see ``Tracker.trust_404``)

    def input_file(self, file_id: str) -> bytes:
        """A request file (b"" when the service no longer has it); kept in the cache like an
        ended batch's results, since it never changes."""
        try:
            return self._content(file_id, final=True)
        except NotFoundError:
            return b""

    def files(
        self, batch_ids: Iterable[str], batches: Mapping[str, dict[str, Any]]
    ) -> tuple[Files, Files, list[tuple[str, str, str]]]:
        """(batch id, content, file id) of every output and error file, oldest batch first,
        and the files batches name that the service no longer has (deleted, or expired):
        ``(batch_id, "output" | "error", file_id)``. Downloads a few at once (``bounded``)."""
        return self._each_file(
            batch_ids, batches, lambda batch_id, _, data, file_id: (batch_id, data, file_id)
        )

    def parsed_files(
        self, batch_ids: Iterable[str], batches: Mapping[str, dict[str, Any]]
    ) -> tuple[list[ResultTable], list[ResultTable], list[tuple[str, str, str]]]:
        """Like ``files``, each file parsed on its transfer thread as soon as it has arrived,
        so parsing one file overlaps the downloads of the next; one table per file, in the
        same order, and the file's bytes are let go once parsed."""
        return self._each_file(batch_ids, batches, _parse_file)

    def _each_file(
        self,
        batch_ids: Iterable[str],
        batches: Mapping[str, dict[str, Any]],
        use: Callable[[str, str, bytes, str], T],
    ) -> tuple[list[T], list[T], list[tuple[str, str, str]]]:
        """``use(batch id, kind, content, file id)`` of every output and error file, in order,
        and the files the service no longer has."""
        wanted = []  # (batch id, kind, file id, final, lines the service counts)
        for batch_id in batch_ids:
            batch = batches.get(batch_id) or self._client.get_batch(batch_id)
            final = batch["status"] in wire.TERMINAL_STATUSES
            counts = batch.get("request_counts") or {}
            if final:
                self.unsettled.discard(batch_id)
                if in_flight_after_cancel(batch):
                    self.unsettled.add(batch_id)
            cacheable = final and batch_id not in self.unsettled
            # never started (Doubleword keeps it `cancelling`): its files stay empty, though
            # the service says more may come
            never = batch.get("service_status") == wire.CANCELLING
            for kind, counted in (("output", "completed"), ("error", "failed")):
                if file_id := batch[f"{kind}_file_id"]:
                    expected = int(counts.get(counted) or 0)
                    wanted.append((batch_id, kind, file_id, cacheable, expected, never))

        def read(
            batch_id: str, kind: str, file_id: str, final: bool, expected: int, never: bool
        ) -> T | None:
            try:
                data = self._content(file_id, final, expected, batch_id, never)
            except NotFoundError:
                self._outage(batch_id, kind, file_id)
                return None
            return use(batch_id, kind, data, file_id)

        done = bounded([partial(read, *want) for want in wanted])
        outputs: list[T] = []
        errors: list[T] = []
        gone = []
        for (batch_id, kind, file_id, *_), item in zip(wanted, done, strict=True):
            if item is None:
                gone.append((batch_id, kind, file_id))
            else:
                (outputs if kind == "output" else errors).append(item)
        return outputs, errors, gone

    def _outage(self, batch_id: str, kind: str, file_id: str) -> None:
        """A file answered 404: where a 404 is not proof (Doubleword answers it for any
        storage error), ask for its batch too; a 404 there as well is a read outage, raised
        as such rather than taken as a deleted file."""
        if self.trust_404:
            return
        try:
            self._client.get_batch(batch_id)
        except NotFoundError as exc:
            raise JobError(
                f"cannot read the {kind} file {file_id} of batch {batch_id}: the service answers "
                f"404 for the batch too ({exc}), as Doubleword does for any storage error. "
                "Nothing was joined and nothing is lost: join again later"
            ) from exc
        except DwError:
            pass

    def finished_results(
        self,
        batch_ids: list[str],
        batches: Mapping[str, dict[str, Any]],
        batch_errors: Callable[[], Files],
    ) -> tuple[ResultTable, list[tuple[str, str, str]]]:
        """Every result line of these batches parsed, with the lines ``batch_errors`` makes for
        rows named by batches' own errors first (a real line for a row wins over them), and the
        files the service no longer has. Kept once every batch has ended and no file is
        missing, so a second join neither reads nor parses the files again."""
        key = tuple(batch_ids)
        if self._parsed is not None and self._parsed[0] == key:
            return self._parsed[1], []
        outputs, errors, gone = self.parsed_files(batch_ids, batches)
        results = ResultTable.merged([*outputs, parse_results(errors=batch_errors()), *errors])
        ended = all(batches.get(i, {}).get("status") in wire.TERMINAL_STATUSES for i in batch_ids)
        if ended and not gone and not self.unsettled.intersection(batch_ids):
            self._parsed = (key, results)
        return results, gone

    def _content(
        self,
        file_id: str,
        final: bool,
        expected: int = 0,
        batch_id: str | None = None,
        never_run: bool = False,
    ) -> bytes:
        """A result file, from the cache when its batch has ended and it was read before.

        An ended batch's file is cached only once it is settled: it holds a line for each of
        the ``expected`` requests its batch counts and the service says no more will come."""
        cache = self._cache if final else None
        if cache is not None and (data := cache.get(file_id)) is not None:
            return data
        page = self._client.file_content(file_id)  # NotFoundError: the file is gone
        data = page.data
        settled = (never_run or page.incomplete is not True) and _lines(data) >= expected
        if final and not settled and batch_id is not None:
            self.unsettled.add(batch_id)
        if cache is not None and settled:
            cache.put(file_id, data)
        return data

    def read_new(
        self, batch_ids: Iterable[str], batches: Mapping[str, dict[str, Any]]
    ) -> ResultTable:
        """Every result line so far, reading only the lines not read before where the service
        can (Doubleword ``skip`` + ``X-Last-Line``)."""
        if self._partial is None:
            self._partial = ResultTable()
        for batch_id in batch_ids:
            batch = batches.get(batch_id)
            for kind in ("output", "error") if batch else ():
                file_id = batch[f"{kind}_file_id"]
                if file_id:
                    first = self._lines_read.get(file_id, 0) + 1
                    data = self._new_lines(file_id)
                    self._partial.add(data, batch_id, f"{kind} file {file_id}", first_line=first)
        return self._partial

    def _new_lines(self, file_id: str) -> bytes:
        seen = self._lines_read.get(file_id, 0)
        try:
            page = self._client.file_content(file_id, skip=seen or None)
        except NotFoundError:  # Doubleword: "not yet"
            return b""
        # A service that ignores skip sends the whole file again; re-adding a line is harmless
        # because the results keep one entry per custom_id. The next read starts after the
        # lines received: Doubleword's X-Last-Line is the batch's count, not the lines sent.
        if page.last_line is not None:
            self._lines_read[file_id] = seen + page.data.count(b"\n")
        return page.data


def in_flight_after_cancel(batch: Mapping[str, Any], now: float | None = None) -> bool:
    """A batch cancelled while it ran, whose uncounted requests may still finish (and be
    billed) for a while after the cancel."""
    counts = batch.get("request_counts") or {}
    left = int(counts.get("total") or 0) - int(counts.get("completed") or 0)
    left -= int(counts.get("failed") or 0)
    cancelled = batch.get("cancelled_at") or batch.get("cancelling_at")
    return (
        batch.get("status") == wire.CANCELLED
        and cancels_at_once(batch)
        and bool(batch.get("in_progress_at"))
        and left > 0
        and cancelled is not None
        and (time.time() if now is None else now) < cancelled + SETTLE_AFTER_CANCEL_S
    )


def cancels_at_once(batch: Mapping[str, Any]) -> bool:
    """Doubleword (its batch ids are bare UUIDs) reads `cancelled` as soon as a batch is
    cancelled; OpenAI stays `cancelling` until the requests in flight have ended."""
    try:
        uuid.UUID(str(batch.get("id")))
    except ValueError:
        return False
    return True


def _lines(data: bytes) -> int:
    """Lines of JSONL (a last line without its newline counts too)."""
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def join_frame(
    df: pd.DataFrame | None,
    ids: Any,
    spec: Mapping[str, Any],
    records: Iterable[BatchRecord],
    outputs: Files = (),  # type: ignore[assignment]
    errors: Files = (),  # type: ignore[assignment]
    results: ResultTable | None = None,
) -> pd.DataFrame:
    """``df`` with the result columns and the ``attempt`` each answer came from."""
    if df is None:
        raise JobError("this job has no DataFrame; attach it with dw.attach(name, df)")
    frame = join_results(
        df,
        ids,
        outputs=outputs,
        errors=errors,
        schema=spec.get("schema"),
        endpoint=spec["endpoint"],
        results=results,
    )
    attempts = {r.batch_id: r.attempt for r in records if r.batch_id}
    # a few batches for many rows: look each batch up once, not each row
    codes, batch_ids = pd.factorize(frame["batch_id"])
    per_batch = pd.array([attempts.get(b) for b in batch_ids] + [None], dtype="Int64")
    frame["attempt"] = pd.Series(per_batch[codes], index=frame.index)
    return frame
