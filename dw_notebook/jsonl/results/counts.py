"""The one count of a joined frame's rows, which every view of a job's results shows.

Counted once here, from the ``status`` (and ``finish_reason``, ``attempt``) columns of a join;
the progress card, the review's header and tabs, the static records and the reprs all print
these numbers (with ``dw_notebook.progress.text.format_row_counts``), so they cannot disagree.

>>> row_counts(job.join()).to_dict()  # doctest: +SKIP
{'rows': 850, 'answered': 822, 'parsed': 238, 'failed': 28, 'missing': 0, ...}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from dw_notebook.jsonl.results._lines import (
    CANCELLED,
    EXPIRED,
    FAILED,
    NOT_RUN,
    OK,
    SKIPPED,
    UNPARSED,
    UNREADABLE,
)

ANSWERED_STATUSES = (OK, UNPARSED)  # a line with an answer
FAILED_STATUSES = (FAILED, EXPIRED, CANCELLED, UNREADABLE)  # a line without a usable answer
MISSING_STATUSES = (NOT_RUN,)  # no line yet


@dataclass(frozen=True)
class RowCounts:
    """Rows by outcome. ``answered`` = ``parsed`` + unparsed (they equal without a schema);
    ``failed_by`` holds the failed rows per status; ``truncated`` the answered rows cut off
    at ``max_tokens``; ``recovered`` the parsed rows answered by a retry (None: no retry yet)."""

    rows: int
    answered: int
    parsed: int
    failed: int
    missing: int
    skipped: int = 0
    truncated: int = 0
    failed_by: dict[str, int] = field(default_factory=dict)
    recovered: int | None = None

    @property
    def unparsed(self) -> int:
        return self.answered - self.parsed

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "unparsed": self.unparsed}


def row_counts(
    frame: pd.DataFrame, *, status_column: str = "status", first_retry: int = 1
) -> RowCounts:
    """The rows of a joined frame by outcome. ``first_retry`` is the ``attempt`` of a job's
    first retry (2 after a pilot: 0 the pilot, 1 the rest); rows answered in it or later and
    parsed count as ``recovered``."""
    status = frame[status_column]
    if not isinstance(status.dtype, pd.CategoricalDtype):  # a join's is: compared as it is
        status = status.astype("string")
    counts = status.value_counts()

    def n(names: tuple[str, ...]) -> int:
        return int(sum(int(counts.get(s, 0)) for s in names))

    answered = status.isin(ANSWERED_STATUSES).to_numpy(dtype=bool, na_value=False)
    truncated = 0
    if "finish_reason" in frame.columns:
        cut = frame["finish_reason"].eq("length").to_numpy(dtype=bool, na_value=False)
        truncated = int((cut & answered).sum())
    recovered = None
    if "attempt" in frame.columns:
        attempt = pd.to_numeric(frame["attempt"], errors="coerce")
        retried = attempt.ge(first_retry).to_numpy(dtype=bool, na_value=False)
        parsed = status.eq(OK).to_numpy(dtype=bool, na_value=False)
        recovered = int((retried & parsed).sum())
    return RowCounts(
        rows=len(frame),
        answered=n(ANSWERED_STATUSES),
        parsed=n((OK,)),
        failed=n(FAILED_STATUSES),
        missing=n(MISSING_STATUSES),
        skipped=n((SKIPPED,)),
        truncated=truncated,
        failed_by={s: int(counts[s]) for s in FAILED_STATUSES if counts.get(s, 0)},
        recovered=recovered,
    )
