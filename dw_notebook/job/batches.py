"""Creating a job's batches without paying twice: look up what the service already has, upload
what is missing (reusing uploads no batch uses), and create each batch once its file is there
(with a budget, once the whole job's cost has been checked)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from typing import Any

from .. import wire
from ..client import BatchClient
from ..errors import DwError, FileTooLargeError, JobError
from . import create, pilot, requests
from .registry import BatchRecord, Registry
from .sending import SendProgress, bounded
from .tracking import Tracker


class BatchCreation:
    """The part of ``Job`` that creates its batches (a mixin: ``Job`` holds the state)."""

    id: str
    name: str
    spec: dict[str, Any]
    estimate: Any
    fresh: bool
    _cancel_when_sent: bool
    service_estimate: float | None
    _client: BatchClient
    _registry: Registry
    _lock: threading.RLock
    _records: list[BatchRecord]
    _tracker: Tracker
    send_progress: SendProgress
    built: Any
    df: Any
    build_args: dict[str, Any] | None
    _uploads: list[dict[str, Any]] | None = None
    _made: set[str] = set()

    @property
    def attempt(self) -> int:
        return max((r.attempt for r in self._records), default=0)

    def _add_record(self, record: BatchRecord) -> None:
        with self._lock:
            self._records = [
                r for r in self._records if (r.attempt, r.chunk) != (record.attempt, record.chunk)
            ]
            self._records.append(record)
            self._records.sort(key=lambda r: (r.attempt, r.chunk))

    def create_batches(
        self, chunks: Sequence[Any], attempt: int, window: str | None = None
    ) -> None:
        """Upload and create every chunk that has no batch yet, recording each id at once.

        ``chunks`` are JSONL bytes or build chunks (read one at a time, so a split job never
        holds a second copy of the whole file). ``window`` overrides the job's completion
        window for these batches (a pilot's 1h).

        Never pays twice: before creating anything it asks the service which batches of this
        job it already has (their metadata names job, attempt and chunk), reuses uploads that
        no batch uses yet, and with a budget checks the whole job's cost before the first
        create. Safe to call again after any failure, from any kernel.
        """
        missing = [c for c in range(len(chunks)) if not self._batch_of(attempt, c)]
        if missing and not self.fresh:
            for chunk, batch in create.existing_batches(self._client, self.id, attempt).items():
                if not self._batch_of(attempt, chunk):
                    self._record_batch(attempt, chunk, self._file_of(attempt, chunk), batch)
                    if rows := create.tag_rows(batch):
                        self._bounds(attempt)[str(chunk)] = list(rows)
        old = dict(self._bounds(attempt))
        chunks = self._as_split(chunks, attempt)
        with self._lock:
            self.spec.setdefault("chunks", {})[str(attempt)] = len(chunks)
            if chunks and _rows(chunks[0]) is not None:
                new = {str(c): list(_rows(chunk) or ()) for c, chunk in enumerate(chunks)}
                self.spec.setdefault("bounds", {})[str(attempt)] = new
                # an upload made for other requests (another split) is not reused for these
                stale = {int(c) for c, rows in old.items() if new.get(c) != rows}
                self._records = [
                    r
                    for r in self._records
                    if r.attempt != attempt or r.batch_id or r.chunk not in stale
                ]
        self._registry.update_spec(self.id, self.spec)
        missing = [c for c in range(len(chunks)) if not self._batch_of(attempt, c)]
        if not missing:
            return
        self._uploads: list[dict[str, Any]] | None = None  # listed once, at the first upload
        self._made: set[str] = set()  # batches this call created (only these it may cancel)
        try:
            self._send(chunks, attempt, missing, window)
        except FileTooLargeError as exc:
            raise self._too_large(exc, chunks, attempt) from exc
        self._settle_again(attempt)
        self.fresh = False

    def _send(
        self, chunks: Sequence[Any], attempt: int, missing: list[int], window: str | None
    ) -> None:
        spec = self.spec
        if window is not None and window != self.spec["window"]:
            spec = {**self.spec, "window": window, "window_may_fall_back": True}
        # after a pilot, proceed() has checked the budget on the pilot's measured figures
        measured = attempt > 0 and (self.spec.get("pilot") or {}).get("proceeded")
        if len(missing) == len(chunks) and not measured and spec.get("budget") is not None:
            # the whole attempt's estimate is known only once every file is on the service
            file_ids = self._upload_all(chunks, attempt, missing)
            self._check_budget(chunks, attempt, file_ids, spec["window"])
            self.send_progress.creating(len(missing))
            for chunk in missing:
                self._create(file_ids[chunk], attempt, chunk, spec)
        else:
            # no budget to check: each batch is created as soon as its file is on the service,
            # so the service starts on it while the other files upload
            file_ids = self._upload_all(chunks, attempt, missing, create=spec)
            if len(missing) == len(chunks) and not measured:  # the whole attempt's files
                self.service_estimate = self._service_total(list(file_ids.values()), spec["window"])

    def _bounds(self, attempt: int) -> dict[str, list[int]]:
        """The request range of each chunk of ``attempt`` as the job was split, by chunk number
        (as text: the spec is stored as JSON)."""
        return self.spec.setdefault("bounds", {}).setdefault(str(attempt), {})

    def _as_split(self, chunks: Sequence[Any], attempt: int) -> list[Any]:
        """``chunks`` as the job was split: the chunks that have batches keep their requests,
        and only the requests in none of them are sent, cut where ``chunks`` cut them (a re-run
        with other split options, e.g. a smaller ``max_bytes=`` after a 413, never sends a
        request twice). Chunk numbers of the old split keep their meaning."""
        if not chunks or _rows(chunks[0]) is None or not hasattr(chunks[0], "parent"):
            return list(chunks)  # bytes (a resume from uploads) or spooled files: as they are
        taken = {int(c): tuple(rows) for c, rows in self._bounds(attempt).items()
                 if len(rows) == 2 and self._batch_of(attempt, int(c))}  # fmt: skip
        same = all(taken.get(c, rows) == rows for c, rows in enumerate(map(_rows, chunks)))
        if same and all(c < len(chunks) for c in taken):
            return list(chunks)  # the same split
        covered = sorted(taken.values())
        pieces = []
        for chunk in chunks:
            start = chunk.start
            for a, b in covered:
                if b <= start or a >= chunk.stop:
                    continue
                if a > start:
                    pieces.append(replace(chunk, start=start, stop=a))
                start = max(start, b)
            if start < chunk.stop:
                pieces.append(replace(chunk, start=start, stop=chunk.stop))
        plan: list[Any] = []
        free = iter(pieces)
        for c in range(max(taken, default=-1) + 1 + len(pieces)):
            if c in taken:
                plan.append(replace(chunks[0], start=taken[c][0], stop=taken[c][1]))
            elif (piece := next(free, None)) is not None:
                plan.append(piece)
        return plan

    def _too_large(self, exc: FileTooLargeError, chunks: Sequence[Any], attempt: int) -> Exception:
        """The 413, saying which chunk was refused and which chunks already have batches (they
        run and are billed; a re-run keeps them and splits only the other requests)."""
        made = [c for c in range(len(chunks)) if self._batch_of(attempt, c)]
        refused = getattr(exc, "dw_chunk", None)
        what = ""
        if refused is not None:
            rows = _rows(chunks[refused])
            span = f"requests {rows[0]}-{rows[1] - 1}, " if rows else ""
            what = f"Chunk {refused} ({span}{_size(chunks[refused]):,} bytes) was refused. "
        if made:
            names = ", ".join(f"{c}{_span(chunks[c])}" for c in made)
            what += (
                f"Chunk{'s' if len(made) > 1 else ''} {names} of job {self.name!r} already "
                f"{'have batches' if len(made) > 1 else 'has a batch'} on the service: "
                "they run and are billed, and a re-run keeps them and sends only the other "
                "requests, split by the new options. "
            )
        else:
            what += "No batch of this job was created. "
        return FileTooLargeError(
            f"{exc.message.rstrip('. ')}. {what}".rstrip(),
            status_code=413, code=exc.code, body=exc.body,
        )  # fmt: skip

    def _upload_all(
        self,
        chunks: Sequence[Any],
        attempt: int,
        missing: list[int],
        create: dict[str, Any] | None = None,
    ) -> dict[int, str]:
        """Upload every missing chunk not uploaded yet, a few at once (``bounded``), and with
        ``create`` (the spec) create each one's batch right after its upload; each chunk's
        bytes are made when its upload starts and dropped when it ends."""
        file_ids = {c: f for c in missing if (f := self._file_of(attempt, c))}
        todo = [c for c in missing if c not in file_ids]
        self.send_progress.uploading(
            {c: _size(chunks[c]) for c in todo}, batches=len(missing) if create else 0
        )

        def send(chunk: int) -> str:
            try:
                file_id = file_ids.get(chunk) or self._upload(chunks[chunk], attempt, chunk)
            except FileTooLargeError as exc:
                exc.dw_chunk = chunk  # type: ignore[attr-defined]
                raise
            if create is not None:
                self._create(file_id, attempt, chunk, create)
            return file_id

        file_ids.update(zip(missing, bounded([partial(send, c) for c in missing]), strict=True))
        if self.built is not None and not (attempt == pilot.PILOT and self.spec.get("pilot")):
            # every file is on the service: rebuilt if read again (not after a pilot's few rows:
            # its report and the rest read them all)
            requests.release(self.built, self.spec, self.df, self.build_args)
        return file_ids

    def _create(self, file_id: str, attempt: int, chunk: int, spec: dict[str, Any]) -> None:
        """Create one chunk's batch and record its id at once; a cancel asked while the submit
        was sending stops it as soon as it exists."""
        rows = (self.spec.get("bounds") or {}).get(str(attempt), {}).get(str(chunk))
        tag = create.batch_tag(self.id, attempt, chunk, tuple(rows) if rows else None, self.name)
        batch = create.create_batch(self._client, file_id, spec, tag)
        if not self.fresh:  # another kernel may have made the same chunk at this moment
            with self._lock:
                self._made.add(batch["id"])
            batch = self._settled(batch, create.settle(self._client, batch, tag), chunk)
            file_id = batch.get("input_file_id") or file_id
        self._record_batch(attempt, chunk, file_id, batch)
        self.send_progress.created()
        if self._cancel_when_sent:
            create.cancel_quietly(self._client, batch["id"])

    def _settled(
        self,
        mine: dict[str, Any],
        settled: tuple[dict[str, Any], dict[str, Any] | None],
        chunk: int,
    ) -> dict[str, Any]:
        """The batch a chunk follows after ``create.settle``; a note for the views when this
        kernel's own batch was the younger duplicate and was cancelled."""
        batch, cancelled = settled
        if cancelled is not None:
            with self._lock:
                self._tracker.notes.append(create.duplicate_note(chunk, cancelled, batch["id"]))
                self._tracker.batches.pop(mine["id"], None)
        return batch

    def _settle_again(self, attempt: int) -> None:
        """One more look once every chunk is created: a duplicate made by another kernel while
        this one's first look could not see it yet is settled the same way (the younger one is
        cancelled by the kernel that made it), so only one batch per chunk runs."""
        made = self._made
        if not made:
            return
        try:
            found = create.job_batches(self._client, self.id)
        except JobError:
            return
        by_chunk: dict[int, list[dict[str, Any]]] = {}
        for b in found:
            named = create.chunk_of(b)
            if named is not None and named[0] == attempt:
                by_chunk.setdefault(named[1], []).append(b)
        for chunk, same in by_chunk.items():
            mine = self._batch_of(attempt, chunk)
            if mine not in made or same[0]["id"] == mine:  # oldest first
                continue
            listed = {b["id"]: b for b in same}.get(mine, {"id": mine})
            cancelled = create.cancel_quietly(self._client, mine) or {**listed, "status": None}
            batch = self._settled({"id": mine}, (same[0], cancelled), chunk)
            self._record_batch(attempt, chunk, batch.get("input_file_id"), batch)

    def resume(self, built: Any = None) -> None:
        """Finish a submit that stopped half-way: find what the service has, create the rest
        (from ``built``, the rebuilt requests, or from uploads that are all there); else raise
        a JobError that says in one line what to run."""
        spec, attempt = self.spec, self.attempt
        if built is not None and attempt == pilot.PILOT and spec.get("pilot"):
            pilot.send(self)  # the pilot's sampled rows, on the pilot's window
            return
        if built is not None and attempt == 0:  # a retry's rows are not rebuilt from the frame
            chunks: Any = built.chunks(
                max_requests=spec.get("max_requests", wire.MAX_REQUESTS_PER_FILE),
                max_bytes=spec.get("max_bytes", wire.MAX_FILE_BYTES),
            )
            self.create_batches(chunks, attempt=attempt)
            return
        n = int(spec["chunks"][str(attempt)])
        if all(self._file_of(attempt, c) for c in self.missing_chunks()):
            self.create_batches([b""] * n, attempt=attempt)  # uploads known: nothing to read
            if not self.missing_chunks():
                return
        raise JobError(
            f"job {self.name!r} stopped half-way through its submit ({len(self.missing_chunks())} "
            f"of {n} batches never created); run dw.attach({self.name!r}, df) with the DataFrame "
            "it was submitted with, or re-run the submit cell, to create the rest without paying "
            "twice"
        )

    def missing_chunks(self) -> list[int]:
        """Chunks of the current attempt that have no batch yet (a submit that stopped half-way)."""
        attempt = self.attempt
        n = int((self.spec.get("chunks") or {}).get(str(attempt), 0))
        return [c for c in range(n) if not self._batch_of(attempt, c)]

    def _batch_of(self, attempt: int, chunk: int) -> str | None:
        return next(
            (r.batch_id for r in self._records if (r.attempt, r.chunk) == (attempt, chunk)), None
        )

    def _file_of(self, attempt: int, chunk: int) -> str | None:
        return next(
            (r.input_file_id for r in self._records if (r.attempt, r.chunk) == (attempt, chunk)),
            None,
        )

    def _record_batch(
        self, attempt: int, chunk: int, file_id: str | None, batch: dict[str, Any]
    ) -> None:
        file_id = file_id or batch.get("input_file_id")
        if file_id:
            self._registry.record_file(self.id, attempt, chunk, file_id)
        self._registry.record_batch(self.id, attempt, chunk, batch["id"], batch["status"])
        self._add_record(
            BatchRecord(self.id, attempt, chunk, file_id, batch["id"], batch["status"])
        )
        with self._lock:
            self._tracker.batches[batch["id"]] = batch

    def _upload(self, data: Any, attempt: int, chunk: int) -> str:
        payload = data if isinstance(data, bytes) else data.data
        filename = create.upload_name(self.name, self.id, attempt, chunk, _rows(data))
        file_id = None
        if not self.fresh:
            if self._uploads is None:
                self._uploads = create.recent_uploads(self._client)
            file_id = create.uploaded_file(self._client, filename, len(payload), self._uploads)
        if file_id is None:
            file_id = create.upload(
                self._client, payload, filename, lambda sent: self.send_progress.sent(chunk, sent)
            )
        self.send_progress.uploaded(chunk, len(payload))
        del payload
        self._registry.record_file(self.id, attempt, chunk, file_id)
        self._add_record(BatchRecord(self.id, attempt, chunk, file_id, None, None))
        return file_id

    def _service_total(
        self, file_ids: list[str], window: str, answers: list[Any] | None = None
    ) -> float | None:
        """USD: the service's own estimate of these files (None where it has none), with its
        answers added to ``answers``."""
        total = 0.0
        for file_id in file_ids:
            estimate = create.service_estimate(self._client, file_id, window)
            if estimate is None:
                return None
            total += estimate[0]
            if answers is not None:
                answers.append(estimate[1])
        return total

    def _check_budget(
        self, chunks: Sequence[Any], attempt: int, file_ids: dict[int, str], window: str
    ) -> None:
        """The whole attempt's cost against the budget, before its first create; over it, the
        uploads are removed and forgotten, so a re-run is refused the same way."""
        budget = self.spec.get("budget")
        answers: list[Any] = []
        total = self._service_total(list(file_ids.values()), window, answers)
        if total is not None:
            self.service_estimate = total
        capped = self.spec.get("max_output_tokens") is not None
        local = create.upper_bound_usd(self.estimate, self.spec.get("max_output_tokens"))
        if local is None:
            local = self.spec.get("bound_usd", self.spec.get("estimated_usd"))
        if local is not None and (attempt or self.spec.get("pilot")):  # a part of the job
            lines = sum((c if isinstance(c, bytes) else c.data).count(b"\n") for c in chunks)
            local = local * lines / max(int(self.spec.get("n_requests") or 1), 1)
        try:
            create.check_budget(budget, self.spec.get("model", ""), total, local, answers, window,
                                capped=capped and local is not None)  # fmt: skip
        except DwError:
            create.delete_files(self._client, list(file_ids.values()))
            self._registry.forget_files(self.id, attempt)
            with self._lock:
                self._records = [r for r in self._records if r.attempt != attempt or r.batch_id]
            raise


def _rows(chunk: Any) -> tuple[int, int] | None:
    """The request range of a chunk (None for plain bytes)."""
    if hasattr(chunk, "start") and hasattr(chunk, "stop"):
        return (int(chunk.start), int(chunk.stop))
    rows = getattr(chunk, "rows", None)
    return (int(rows[0]), int(rows[1])) if rows is not None else None


def _span(chunk: Any) -> str:
    rows = _rows(chunk)
    return f" (requests {rows[0]}-{rows[1] - 1})" if rows else ""


def _size(chunk: Any) -> int:
    return len(chunk) if isinstance(chunk, bytes) else int(chunk.nbytes)
