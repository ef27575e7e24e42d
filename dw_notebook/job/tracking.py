"""Polled batch objects -> job snapshots: phase, counts, throughput, ETA, window left, cost."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from .. import wire
from ..client import BatchClient, batch_figures
from ..errors import STUCK_VALIDATING_ADVICE, APIError, NotFoundError, TransportError
from ..prices import price_for
from ..progress.snapshot import AttemptSnapshot, BatchSnapshot, JobSnapshot, SendingSnapshot
from ..progress.text import format_duration
from .registry import Registry

MAX_ERRORS_SHOWN = 3
RESULTS_HINT = "Results: out = job.join(); job.review() to look through them"
PILOT_HINT = (
    "Pilot done: job.pilot_report() shows its answers, measured tokens per row and the cost of "
    "the rest; job.proceed() sends the other {rest:,} rows"
)

#: 404s in a row after which a batch counts as unknown to the service polled.
LOST_AFTER = 3
#: Unfinished batches from which a poll reads the service's batch list (a page of LIST_PAGE).
LIST_FROM = 3
LIST_PAGE = 100

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


class Tracker:
    """The last known state of a job's batches, and the recent pace of its requests.

    Not thread-safe on its own: the job calls it under its lock.
    """

    def __init__(self, *, name: str, spec: dict[str, Any], simulated: bool) -> None:
        self.name = name
        self.spec = spec
        self.simulated = simulated
        self.batches: dict[str, dict[str, Any]] = {}
        self.poll_error: str | None = None
        #: one-line notes on what the job did for the user (a duplicate batch cancelled)
        self.notes: list[str] = []
        self.expected: dict[int, int] = {}  # attempt -> rows sent, before the service counts them
        self.lost: dict[str, str] = {}  # batch id -> why the service does not know it
        self._misses: dict[str, int] = {}  # 404s in a row per batch id
        self._can_list = True  # False once the list cannot answer (no list, or too many newer)
        self._last_ok: float | None = None
        self._started = time.time()
        self._history: deque[tuple[float, int]] = deque(maxlen=120)
        self.stuck_validating_s = 600.0  # a batch validating longer than this gets a note
        self.line_counts: dict[str, int] = {}  # salvaged_lines / unreadable_lines, last join
        #: the rows of the last join of the ended job (``RowCounts.to_dict()``), and how many
        #: attempts the job had then (a later retry makes them stale)
        self.rows: dict[str, Any] | None = None
        self.rows_attempts = 0
        #: a 404 means the batch is not there: the embedded server, or a service the job's
        #: batches were not created on. Doubleword answers 404 for any storage error, so
        #: there a 404 on a batch the job created is shown and polled again, never "gone".
        self.trust_404 = True
        self.budget_stop: str | None = None  # why the job cancelled itself, once it did
        self._has_analytics = True  # False once the service answers 404 for the route
        self._measured: dict[str, tuple[int, dict[str, Any]]] = {}  # id -> (completed, figures)

    def poll(self, client: BatchClient, batch_ids: Sequence[str], registry: Registry) -> None:
        """Ask the service for every unfinished batch; a failed poll is noted, never raised.

        With several unfinished batches, one page of the service's batch list (newest first)
        answers for all of those it holds, one request instead of one per batch; the others
        are asked for one by one."""
        unfinished = [
            batch_id
            for batch_id in batch_ids
            if (self.batches.get(batch_id) or {}).get("status") not in wire.TERMINAL_STATUSES
        ]
        listed = self._listed(client, unfinished) if len(unfinished) >= LIST_FROM else {}
        for batch_id in unfinished:
            batch = listed.get(batch_id)
            if batch is None:
                try:
                    batch = client.get_batch(batch_id, wait_refusals=False)
                except NotFoundError as exc:
                    self._misses[batch_id] = self._misses.get(batch_id, 0) + 1
                    if not self.trust_404:
                        self.poll_error = cannot_see(batch_id, client.base_url, exc)
                        continue
                    # lost after a few 404s in a row: a service may not list a new batch at once
                    if self._misses[batch_id] >= LOST_AFTER:
                        self.lost[batch_id] = str(exc)
                    self.poll_error = f"batch {batch_id} not found on {client.base_url} ({exc})"
                    continue
                except (TransportError, APIError) as exc:
                    self.poll_error = str(exc)
                    break
            self._seen(batch_id, batch, registry)
            self._measure(client, batch_id)
        self._history.append((time.time(), self._finished_requests(batch_ids)))

    def _measure(self, client: BatchClient, batch_id: str) -> None:
        """Doubleword's analytics (tokens and cost) of a batch whose answers grew, or that has
        just ended; kept on the batch object. Not asked where batches carry ``usage`` or the
        service has no analytics route."""
        batch = self.batches[batch_id]
        if not self._has_analytics or isinstance(batch.get("usage"), dict):
            return
        done = batch["request_counts"]["completed"]
        known = self._measured.get(batch_id)
        if isinstance(batch.get("analytics"), dict):  # came with the list page
            self._measured[batch_id] = (done, batch["analytics"])
            return
        ended = batch["status"] in wire.TERMINAL_STATUSES
        if known is not None and (known[0] == done and not ended or done == 0):
            batch["analytics"] = known[1]
            return
        try:
            figures = client.batch_analytics(batch_id)
        except NotFoundError:
            self._has_analytics = False  # the batch was just read: the route is missing
            return
        except (TransportError, APIError):
            if known is not None:
                batch["analytics"] = known[1]
            return
        batch["analytics"] = figures
        self._measured[batch_id] = (done, figures)

    def _listed(self, client: BatchClient, wanted: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The batches of ``wanted`` on the first page of the service's list ({} where the
        service cannot list: those are asked for one by one, and the list never again)."""
        if not self._can_list:
            return {}
        try:
            page = client.list_batches(limit=LIST_PAGE, wait_refusals=False, analytics=True)
        except (TransportError, APIError) as exc:
            if isinstance(exc, NotFoundError) or getattr(exc, "status_code", None) == 405:
                self._can_list = False
            return {}
        want = set(wanted)
        found = {b["id"]: b for b in page["data"] if b.get("id") in want}
        if not found:  # newer batches fill the page: it would cost a request every poll
            self._can_list = False
        return found

    def _seen(self, batch_id: str, batch: dict[str, Any], registry: Registry) -> None:
        """Keep a batch object just read from the service."""
        known = self.batches.get(batch_id)
        self.lost.pop(batch_id, None)
        self._misses.pop(batch_id, None)
        if known and batch["status"] not in wire.TERMINAL_STATUSES:
            # a lagging replica can report fewer done than before: progress never goes back
            counts = batch["request_counts"]
            counts["completed"] = max(counts["completed"], known["request_counts"]["completed"])
            counts["total"] = max(counts["total"], known["request_counts"]["total"])
        self.poll_error = None
        self._last_ok = time.time()
        if not known or known["status"] != batch["status"]:
            registry.record_status(batch_id, batch["status"])
        self.batches[batch_id] = batch

    def snapshot(
        self,
        attempts: Sequence[Sequence[str]],
        *,
        estimated_cost: float | None,
        sending: SendingSnapshot | None = None,
        busy: str = "",
    ) -> JobSnapshot:
        """The job's state over every attempt (``attempts[k]``: the batch ids of attempt k).

        No network. While the submit's steps before the batches run (``sending``), their phase
        is the job's; when they stopped on an error, the job is failed and done. Phase, queue
        and pace come from the latest attempt; rows, tokens and cost add up every attempt, so a
        retry never hides what the first submission did.
        """
        now = time.time()
        latest = len(attempts) - 1
        rows = tuple(
            self._batch_row(batch_id, attempt)
            for attempt, ids in enumerate(attempts)
            for batch_id in ids
        )
        lines = tuple(
            self._attempt_line(
                k,
                [r for r in rows if r.attempt == k],
                self.expected.get(k, 0),
                self._elapsed([self.batches.get(i) for i in ids], now),
            )
            for k, ids in enumerate(attempts)
        )
        pilot = self.spec.get("pilot")
        # the first submission: attempt 0, or a pilot (0) and the rest (1) together
        base = 2 if pilot and len(lines) > 1 else 1
        expected = int(self.spec.get("n_requests") or 0)
        if pilot and len(lines) <= 1:
            expected = int(pilot["n"])  # until proceed(), the job is its pilot
        total = sum(line.total for line in lines[:base]) or expected
        current = [r for r in rows if r.attempt == latest]
        recovered = sum(line.completed for line in lines[base:])
        completed = min(total, sum(line.completed for line in lines)) if total else 0
        failed = sum(line.failed for line in lines[:base])
        if len(lines) > base:  # after a retry, only the latest attempt's failures stand
            failed = min(lines[-1].failed, max(total - completed, 0))
        done = bool(current) and all(r.status in wire.TERMINAL_STATUSES for r in current)
        phase = aggregate_phase(r.status for r in current)
        if sending is not None:
            phase = wire.FAILED if sending.error else sending.phase
            done = bool(sending.error)  # batches made so far may have ended: not the job
        batches = [self.batches.get(i) for i in (r.id for r in current)]
        # the whole job's time: its first create to its last batch's end (now, while running)
        elapsed = self._elapsed([self.batches.get(r.id) for r in rows], now, done)
        if elapsed is None:
            elapsed = max(now - self._started, 0.0)
        # a rate measured on an earlier attempt says nothing of this one's pace
        throughput = self._throughput() if any(r.completed + r.failed for r in current) else None
        joined = self.rows if done and self.rows_attempts == len(attempts) else None
        if joined and joined.get("recovered") is not None:
            recovered = int(joined["recovered"])  # parsed answers only, not lines that came back
        queued = sum(_left(r) for r in current if r.status == wire.VALIDATING)
        running = sum(_left(r) for r in current if r.status in wire.ACTIVE_STATUSES)
        remaining = queued + running
        expires = [b["expires_at"] for b in batches if b and b.get("expires_at")]
        costs = [r.cost for r in rows]
        model = self.spec.get("model", "")
        cost_note = ""
        if self.simulated or model in wire.SIMULATED_MODELS:
            estimated_cost, cost_note = None, "n/a (simulated)"
        elif price_for(model, self.spec.get("window", "24h")) is None and not estimated_cost:
            # no local price and no (or a "$0.00") estimate from the service: no price at all
            estimated_cost, cost_note = None, "n/a (no price for this model)"
        return JobSnapshot(
            name=self.name,
            phase=phase,
            total=total,
            completed=completed,
            failed=failed,
            batches=rows,
            model=model,
            simulated=self.simulated,
            cost_note=cost_note,
            done=done,
            elapsed_s=elapsed,
            throughput=throughput,
            eta_s=remaining / throughput if throughput and not done else None,
            window_left_s=max(min(expires) - now, 0.0) if expires and not done else None,
            estimated_cost=estimated_cost,
            actual_cost=None if not costs or None in costs else sum(costs),  # type: ignore[arg-type]
            poll_error=self.poll_error,
            last_update_age_s=now - self._last_ok if self._last_ok is not None else None,
            message="; ".join(t for t in (busy, self._message(batches, done, latest, now)) if t),
            busy=busy,
            extra=self._extra([r.id for r in current], batches, done and sending is None, latest),
            queued=queued,
            running=running,
            recovered=recovered,
            input_tokens=_total(r.input_tokens for r in rows),
            output_tokens=_total(r.output_tokens for r in rows),
            attempts=lines,
            sending=sending,
            rows=joined,
        )

    def _elapsed(
        self, batches: Sequence[dict[str, Any] | None], now: float, done: bool | None = None
    ) -> float | None:
        """Seconds from the first of ``batches`` created to the last one ended (to now while
        any runs); None before the service said when any was created."""
        created = [b["created_at"] for b in batches if b and b.get("created_at")]
        if not created:
            return None
        if done is None:
            done = all(b and b["status"] in wire.TERMINAL_STATUSES for b in batches)
        ends = [b.get(wire.ENDED_AT.get(b["status"], "")) for b in batches if b] if done else []
        end = max([e for e in ends if e] or [now]) if done else now
        return max(end - min(created), 0.0)

    def _extra(
        self,
        batch_ids: Sequence[str],
        batches: list[dict[str, Any] | None],
        done: bool,
        attempt: int,
    ) -> dict[str, Any]:
        """The results hint, the first batch errors with their codes, and the counts of result
        lines the last join could not read plainly."""
        extra: dict[str, Any] = {"hint": self._hint(attempt)} if done else {}
        errors = [
            {"batch_id": batch_id, **error}
            for batch_id, b in zip(batch_ids, batches, strict=True)
            for error in ((b.get("errors") or {}).get("data") or [] if b else [])
        ]
        if errors:
            extra["errors"] = errors[:MAX_ERRORS_SHOWN]
            extra["error_count"] = len(errors)
        extra.update({k: v for k, v in self.line_counts.items() if v})
        return extra

    def note_lines(self, attrs: dict[str, Any]) -> bool:
        """Keep the counts of salvaged and unreadable lines a join reported; True if changed."""
        counts = {
            "salvaged_lines": int(attrs.get("dw_salvaged_count", 0)),
            "unreadable_lines": int(attrs.get("dw_unreadable_count", 0)),
        }
        changed, self.line_counts = counts != self.line_counts, counts
        return changed

    def note_rows(self, rows: dict[str, Any], attempts: int) -> bool:
        """Keep the row counts of a join of the ended job; True if changed."""
        changed = (rows, attempts) != (self.rows, self.rows_attempts)
        self.rows, self.rows_attempts = rows, attempts
        return changed

    def _hint(self, attempt: int) -> str:
        pilot = self.spec.get("pilot")
        if pilot and attempt == 0:
            return PILOT_HINT.format(rest=int(self.spec.get("n_requests") or 0) - int(pilot["n"]))
        return RESULTS_HINT

    def _batch_row(self, batch_id: str, attempt: int) -> BatchSnapshot:
        """One batch as last seen; 'unknown' before the service answered about it."""
        batch = self.batches.get(batch_id)
        if not batch:
            return BatchSnapshot(batch_id, "unknown", attempt=attempt)
        counts = batch.get("request_counts") or {}
        tokens_in, tokens_out, usd = batch_figures(batch)
        if tokens_in is None and batch["status"] in (wire.VALIDATING, wire.IN_PROGRESS):
            tokens_in = tokens_out = 0 if not counts.get("completed") else None
        return BatchSnapshot(
            batch_id,
            batch["status"],
            total=int(counts.get("total") or 0),
            completed=int(counts.get("completed") or 0),
            failed=int(counts.get("failed") or 0),
            attempt=attempt,
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            cost=self._cost(tokens_in, tokens_out, usd),
        )

    @staticmethod
    def _attempt_line(
        attempt: int, rows: list[BatchSnapshot], expected: int, elapsed: float | None
    ) -> AttemptSnapshot:
        return AttemptSnapshot(
            attempt,
            aggregate_phase(r.status for r in rows),
            total=sum(r.total for r in rows) or expected,
            completed=sum(r.completed for r in rows),
            failed=sum(r.failed for r in rows),
            done=bool(rows) and all(r.status in wire.TERMINAL_STATUSES for r in rows),
            elapsed_s=elapsed,
        )

    def _cost(
        self, tokens_in: int | None, tokens_out: int | None, usd: float | None = None
    ) -> float | None:
        """USD charged: the service's own figure where it gives one above zero (Doubleword's
        analytics; "0" means the model has no tariff there), else the token usage it reports
        at the known price (None: not reported or no known price). Only completed requests
        are charged, and both count only those."""
        if usd:
            return usd
        price = price_for(self.spec.get("model", ""), self.spec.get("window", "24h"))
        if price is None or tokens_in is None or tokens_out is None:
            return None
        return (tokens_in * price.input + tokens_out * price.output) / 1e6

    def _finished_requests(self, batch_ids: Sequence[str]) -> int:
        counts = [self.batches[i]["request_counts"] for i in batch_ids if i in self.batches]
        return sum(c["completed"] + c["failed"] for c in counts)

    def _throughput(self) -> float | None:
        if len(self._history) < 2:
            return None
        (t0, n0), (t1, n1) = self._history[0], self._history[-1]
        if t1 - t0 < 1.0 or n1 <= n0:
            return None
        return (n1 - n0) / (t1 - t0)

    def _message(
        self, batches: list[dict[str, Any] | None], done: bool, attempt: int, now: float
    ) -> str:
        parts = list(self.notes) + ([self.budget_stop] if self.budget_stop else [])
        started = [b["created_at"] for b in batches if b and b["status"] == wire.VALIDATING]
        if started and started[0] and now - min(started) > self.stuck_validating_s:
            waited = format_duration(now - min(started))
            parts.append(f"still validating after {waited}: {STUCK_VALIDATING_ADVICE}")
        if self.simulated:
            parts.append("answers are simulated by the embedded local server (no API key set)")
        if self.spec.get("pilot"):  # attempt 0 is the pilot, 1 the rest, then retries
            parts.append(("pilot", "the rest after the pilot")[attempt] if attempt < 2
                         else f"retry {attempt - 1}")  # fmt: skip
        if any(b and b.get("service_status") == wire.CANCELLING for b in batches):
            parts.append(
                "cancelled before the service started it: nothing ran and nothing is charged "
                "(the service keeps showing it as 'cancelling')"
            )
        if not done and any(b and b.get("expired_at") for b in batches):
            # Doubleword marks expiry but keeps working instead of ending the batch
            parts.append("past the completion window; the service is still working on it")
        return "; ".join(parts)


def cannot_see(batch_id: str, base_url: str, exc: Exception) -> str:
    """Why polls of a batch the job created answer 404, and that polling goes on."""
    return (
        f"cannot see batch {batch_id} on {base_url} ({exc}): the service answers 404 for a "
        "batch it cannot read right now (Doubleword does so for any storage error); still "
        "polling, nothing is sent again"
    )


def _left(row: BatchSnapshot) -> int:
    return max(row.total - row.completed - row.failed, 0)


def _total(values: Iterable[int | None]) -> int | None:
    values = list(values)
    if not values or any(v is None for v in values):
        return None
    return int(sum(values))  # type: ignore[arg-type]


def lost_message(job: Any) -> str:
    """Why a job's batch is unknown to the service polled, where it lives and how to reach it."""
    ids = ", ".join(sorted(job._tracker.lost))
    here = job.connection.base_url
    if job.service == "local" and job.connection.simulated:
        where = (
            "it was created by the embedded local server of another kernel, or of an earlier "
            "one whose data this server does not have. Keep that kernel running (this kernel then "
            "uses its server), or stop it: dw.stop_local() here, then dw.attach again, and this "
            "kernel's server takes over its data"
        )
    elif job.service == "local":
        where = (
            "it was created on the embedded local server; attach without api_key/base_url "
            "to reach it"
        )
    else:
        where = (
            f"it was created on {job.service}; attach with base_url={job.service!r} and that "
            "service's API key"
        )
    return f"batch {ids} of job {job.name!r} is not known to {here}: {where}"
