"""The rows of ``dw.list_jobs()``: every batch of the registry and of the service, one table.

Same columns and dtypes whatever is asked (times as UTC datetimes, counts as integers, missing
values as ``<NA>``), and no invented figures: a batch the service cannot show keeps its last
recorded status and says where it is instead of showing "0 done".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from .. import wire
from ..client import BatchClient, batch_figures
from ..errors import APIError, NotFoundError, TransportError
from .registry import JobRecord

COLUMNS = (
    "job", "job_id", "attempt", "chunk", "batch_id", "status", "where", "model", "endpoint",
    "window", "total", "completed", "failed", "input_tokens", "output_tokens", "cost_usd",
    "created_at", "ended_at",
)  # fmt: skip
INT_COLUMNS = ("attempt", "chunk", "total", "completed", "failed", "input_tokens", "output_tokens")
TIME_COLUMNS = ("created_at", "ended_at")
#: ``where`` values
ON_SERVICE = "on the service"
NOT_CHECKED = "not checked"
OTHER_LOCAL = "on another local server"
NOT_FOUND = "not found on the service"
UNREACHABLE = "service unreachable"
MAX_LOOKUPS = 20  # registry batches looked up one by one when the listing does not show them


def registry_rows(records: Iterable[JobRecord], service_key: str) -> dict[str, dict[str, Any]]:
    """batch id -> row, for every batch of this service recorded in the registry."""
    rows: dict[str, dict[str, Any]] = {}
    for record in records:
        if record.service != service_key:
            continue
        for b in record.batches:
            if b.batch_id:
                rows[b.batch_id] = {
                    "job": record.name, "job_id": record.job_id, "attempt": b.attempt,
                    "chunk": b.chunk, "batch_id": b.batch_id, "status": b.status,
                    "where": NOT_CHECKED, "model": record.spec.get("model"),
                    "endpoint": record.spec.get("endpoint"), "window": record.spec.get("window"),
                    "created_at": record.created_at,
                }  # fmt: skip
    return rows


def _apply(row: dict[str, Any], batch: dict[str, Any]) -> None:
    counts = batch.get("request_counts") or {}
    tokens_in, tokens_out, usd = batch_figures(batch)
    # the stamp of the state it ended in: Doubleword sets expired_at on any batch viewed past
    # its window, finished or not
    ended = batch.get(wire.ENDED_AT.get(batch.get("status", ""), ""))
    row.update(
        window=batch.get("completion_window") or row.get("window"),
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        cost_usd=usd,
        ended_at=ended or None,
    )
    row.update(
        status=batch["status"],
        where=ON_SERVICE,
        created_at=batch.get("created_at") or row.get("created_at"),
        total=counts.get("total"),
        completed=counts.get("completed"),
        failed=counts.get("failed"),
        endpoint=batch.get("endpoint") or row.get("endpoint"),
    )
    if not row.get("model") and batch.get("model"):
        row["model"] = batch["model"]
    metadata = batch.get("metadata") or {}
    tag = [metadata.get(k) for k in ("dw_job", "dw_attempt", "dw_chunk")]
    if not row.get("job_id") and all(isinstance(v, str) and v for v in tag):
        # a batch the registry lost: its metadata names its job (made on another machine)
        job = metadata.get("dw_name") or tag[0]
        row.update(job=job, job_id=tag[0], attempt=tag[1], chunk=tag[2])


def add_service_rows(
    rows: dict[str, dict[str, Any]], client: BatchClient, *, local: bool
) -> str | None:
    """Fill rows from the service's listing (and add its batches the registry does not know);
    look up recorded batches the listing did not show. Returns an error to warn about."""
    try:
        for batch in client.iter_batches(max_pages=2, analytics=True):
            row = rows.setdefault(batch["id"], {"batch_id": batch["id"]})
            _apply(row, batch)
    except (TransportError, APIError) as exc:
        for row in rows.values():
            row["where"] = UNREACHABLE
        return str(exc)
    missing = [r for r in rows.values() if r.get("where") == NOT_CHECKED]
    for row in missing[:MAX_LOOKUPS]:
        try:
            _apply(row, client.get_batch(row["batch_id"]))
        except NotFoundError:
            row["where"] = OTHER_LOCAL if local else NOT_FOUND
        except (TransportError, APIError):
            row["where"] = UNREACHABLE
    return None


def frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """The rows as the fixed table, newest first."""
    out = pd.DataFrame(list(rows), columns=list(COLUMNS))
    for column in INT_COLUMNS:
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("Int64")
    out["cost_usd"] = pd.to_numeric(out["cost_usd"], errors="coerce").astype(float)
    for column in TIME_COLUMNS:
        out[column] = pd.to_datetime(
            pd.to_numeric(out[column], errors="coerce"), unit="s", utc=True
        )
    for column in ("job", "job_id", "batch_id", "status", "where", "model", "endpoint", "window"):
        out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out.sort_values("created_at", ascending=False, ignore_index=True, na_position="last")
