"""What a job looks like at one moment: the only thing widgets and text progress read.

A snapshot is plain data (JSON-safe via ``to_dict``), built by the job from batch objects and
consumed by the progress widget (as one synced trait) and by the text formatter.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class BatchSnapshot:
    id: str
    status: str
    total: int = 0
    completed: int = 0
    failed: int = 0


@dataclass(frozen=True)
class JobSnapshot:
    """Aggregate state of one job (one or more batches).

    ``phase`` is one of: submitting, validating, in_progress, finalizing, completed, failed,
    expired, cancelling, cancelled. ``done`` is true once every batch is terminal.
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

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["batches"] = [asdict(b) for b in self.batches]
        return data
