"""Counting what a fault cost, on the server itself: batches per chunk, rows lost, rows paid
twice; and the rows of the reliability table."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import orjson
import pandas as pd

from dw_notebook.client import BatchClient
from dw_notebook.errors import NotFoundError

REPORT_ENV = "DW_RELIABILITY_REPORT"
PROMPT = "Sentiment of this review, one word: {review}"
ROWS: list[dict] = []  # filled by the report fixture, rendered at the end


@dataclass
class Tally:
    """What a scenario cost, counted on the server itself."""

    batches_per_chunk: int = 0
    rows: int = 0
    rows_lost: int = 0
    rows_twice: int = 0
    paid_twice: int = 0
    batches: int = 0
    chunks: int = 0
    extra: dict = field(default_factory=dict)

    def assert_clean(self) -> None:
        assert self.batches_per_chunk == (1 if self.chunks else 0), self
        assert self.rows_lost == 0, self
        assert self.rows_twice == 0, self
        assert self.paid_twice == 0, self


def tally(server, out: pd.DataFrame | None, n_rows: int, *, ok=("ok",)) -> Tally:
    """Count on ``server`` (not through any proxy): batches per (job, attempt, chunk) (a batch
    cancelled before any request ran is not counted: ``extra``), and the custom_ids of a job
    answered by more than one batch; and in ``out``: rows without an answer."""
    with BatchClient(server.base_url, server.token, max_retries=2) as client:
        batches = list(client.iter_batches(max_pages=20))
        per_chunk: Counter = Counter()
        answered: Counter = Counter()
        duplicates = 0
        for b in batches:
            m = b.get("metadata") or {}
            counts = b["request_counts"]
            if b["status"] in ("cancelling", "cancelled") and not counts["completed"]:
                duplicates += 1  # cancelled before it ran: nothing runs, nothing is billed
            else:
                per_chunk[(m.get("dw_job"), m.get("dw_attempt"), m.get("dw_chunk"))] += 1
            if b["output_file_id"]:
                try:
                    data = client.file_content(b["output_file_id"]).data
                except NotFoundError:  # Doubleword: "not yet"
                    continue
                for line in data.splitlines():
                    if line.strip():
                        answered[(m.get("dw_job"), orjson.loads(line)["custom_id"])] += 1
    t = Tally(
        batches_per_chunk=max(per_chunk.values(), default=0),
        batches=len(batches),
        chunks=len(per_chunk),
        paid_twice=sum(1 for n in answered.values() if n > 1),
        extra={"cancelled_before_running": duplicates},
    )
    if out is not None:
        t.rows = len(out)
        t.rows_lost = n_rows - int(out["status"].isin(ok).sum())
        t.rows_twice = int(out.index.duplicated().sum())
    return t


def wait_until(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"not reached in {timeout} s: {what}")
