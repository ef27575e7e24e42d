"""What a job looks like at one moment: the only thing widgets and text progress read.

A snapshot is plain data (JSON-safe via ``to_dict``), built by the job from batch objects and
consumed by the progress widget (as one synced trait) and by the text formatter.

The figures of a job cover every attempt (the first submission and each ``retry()``); each
attempt is also summarised on its own in ``attempts``, and :meth:`JobSnapshot.for_attempt`
gives the view of one attempt (what the output of a ``job.retry()`` cell shows).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..wire import ACTIVE_STATUSES


@dataclass(frozen=True)
class BatchSnapshot:
    id: str
    status: str
    total: int = 0
    completed: int = 0
    failed: int = 0
    attempt: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None  # USD charged so far; None: not reported or no price


@dataclass(frozen=True)
class AttemptSnapshot:
    """One submission of a job: 0 is the first, 1 the first ``retry()``, and so on."""

    attempt: int
    phase: str
    total: int = 0
    completed: int = 0
    failed: int = 0
    done: bool = False
    elapsed_s: float | None = None  # its first create to its last end (to now while running)


@dataclass(frozen=True)
class SendingSnapshot:
    """The steps of a submit before its batches exist, run on the job's background thread.

    ``phase`` is building, uploading or creating; ``error`` is why they stopped (the job is then
    over until the submit is run again). Bytes count what the uploads have sent so far;
    ``rate`` is bytes per second since the first upload began.
    """

    phase: str
    rows: int = 0
    files_done: int = 0
    files_total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    rate: float | None = None
    batches_done: int = 0
    batches_total: int = 0
    error: str | None = None


@dataclass(frozen=True)
class JobSnapshot:
    """Aggregate state of one job (one or more batches, one or more attempts).

    ``phase`` is one of: building, uploading, creating (before the batches exist; ``sending``
    says how far), submitting, validating, in_progress, finalizing, completed, failed, expired,
    cancelling, cancelled (or unknown, before the first answer of the service).
    ``done`` is true once every batch is terminal, or once the submit's steps stopped on an
    error. ``completed`` counts rows answered in any attempt (``recovered`` of them by a retry);
    ``failed`` the rows whose latest attempt failed; ``queued`` / ``running`` the rows of the
    latest attempt still waiting / being worked on.
    Times are seconds; ``None`` means unknown.
    """

    name: str
    phase: str
    total: int = 0
    completed: int = 0
    failed: int = 0
    batches: tuple[BatchSnapshot, ...] = ()
    model: str = ""
    simulated: bool = False
    done: bool = False
    elapsed_s: float | None = None
    throughput: float | None = None  # requests finished per second, recent
    eta_s: float | None = None
    window_left_s: float | None = None
    estimated_cost: float | None = None
    actual_cost: float | None = None
    poll_error: str | None = None  # last poll failure, while reconnecting
    last_update_age_s: float | None = None
    message: str = ""  # a one-line note for the user (e.g. "answers are simulated")
    extra: dict[str, Any] = field(default_factory=dict)
    queued: int = 0
    running: int = 0
    recovered: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None
    attempts: tuple[AttemptSnapshot, ...] = ()
    attempt: int | None = None  # set on the view of one attempt (``for_attempt``)
    cost_note: str = ""  # why there is no cost, e.g. "n/a (simulated)"
    pilot: dict[str, Any] | None = None  # a pilot job's report and state (progress/pilot.py)
    sending: SendingSnapshot | None = None  # the submit's steps before the batches exist
    busy: str = ""  # "service busy (429, capacity): retrying in 60 s, waited 4 min", while so
    #: the rows of the job's last join once it ended (``RowCounts.to_dict()``); None: not joined
    rows: dict[str, Any] | None = None

    @property
    def percent(self) -> int | None:
        """Whole percent of the rows that have ended (answered or failed); None: unknown."""
        if self.total <= 0:
            return None
        ended = max(0, self.completed) + max(0, self.failed)
        return min(100, max(0, math.floor(100 * ended / self.total)))

    def for_attempt(self, attempt: int) -> JobSnapshot:
        """The view of one attempt: its batches, counts, tokens and cost only."""
        batches = tuple(b for b in self.batches if b.attempt == attempt)
        line = next((a for a in self.attempts if a.attempt == attempt), None)
        if line is None:
            line = AttemptSnapshot(attempt, "submitting")
        running = queued = 0
        for b in batches:
            left = max(b.total - b.completed - b.failed, 0)
            if b.status == "validating":
                queued += left
            elif b.status in ACTIVE_STATUSES:
                running += left
        costs = [b.cost for b in batches]
        return replace(
            self,
            name=f"{self.name} · {attempt_label(attempt, first_retry(self))}"
            if attempt
            else self.name,
            phase=line.phase,
            total=line.total,
            completed=line.completed,
            failed=line.failed,
            done=line.done,
            elapsed_s=line.elapsed_s if line.elapsed_s is not None else self.elapsed_s,
            batches=batches,
            queued=queued,
            running=running,
            recovered=0,
            input_tokens=_sum(b.input_tokens for b in batches),
            output_tokens=_sum(b.output_tokens for b in batches),
            actual_cost=None if not costs or None in costs else sum(costs),  # type: ignore[arg-type]
            estimated_cost=None,
            attempts=(),
            attempt=attempt,
            eta_s=self.eta_s if not line.done else None,
            window_left_s=self.window_left_s if not line.done else None,
            extra=self.extra if line.done else {},
            pilot=None,
            rows=None,
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["batches"] = [asdict(b) for b in self.batches]
        data["attempts"] = [asdict(a) for a in self.attempts]
        data["percent"] = self.percent
        return data


def first_retry(snap: JobSnapshot) -> int:
    """The attempt a job's first retry is: 1, or 2 after a pilot (0 the pilot, 1 the rest)."""
    return 2 if snap.pilot else 1


def attempt_label(attempt: int, first: int = 1) -> str:
    """'first run', 'retry 1'; after a pilot (``first`` 2) 'pilot', 'rest', 'retry 1'."""
    if first == 2 and attempt < 2:
        return ("pilot", "rest")[attempt]
    return "first run" if attempt == 0 else f"retry {attempt - first + 1}"


def _sum(values: Any) -> int | None:
    values = list(values)
    if not values or any(v is None for v in values):
        return None
    return int(sum(values))
