"""Doubleword's batch and analytics objects, derived from our stored row as the control layer
derives them from its own (``dwctl/src/api/handlers/batches.rs``, ``to_batch_response_enriched``;
``dwctl/src/db/handlers/analytics.rs``, ``batch_analytics_from_row``)."""

from __future__ import annotations

from decimal import Decimal

import orjson

from dw_notebook import wire

# keys a caller may not set (the control layer drops them at create, case and -/_ folded)
RESERVED_METADATA_KEYS = frozenset(
    {"created_by_email", "context_name", "context_type", "request_source", "created_by",
     "dw_user_agent"}
)  # fmt: skip
_FINISHED = frozenset({wire.FINALIZING, wire.COMPLETED, wire.FAILED, wire.CANCELLED})


def is_reserved_key(key: str) -> bool:
    return key.lower().replace("-", "_") in RESERVED_METADATA_KEYS


def failed_count(row: dict, now: float) -> int:
    """Failures awaiting a retry count as failed once the window has passed (SLA filter);
    after a cancel they count as canceled instead."""
    if row["cancelling_at"] is None and row["expires_at"] is not None and now > row["expires_at"]:
        return row["failed"] + row["retrying"]
    return row["failed"]


def status(row: dict, now: float) -> str:
    """The status the control layer reports: derived from timestamps and counts, never
    ``expired``; a cancel before population leaves ``cancelling`` for ever."""
    started = row["in_progress_at"] is not None
    if row["cancelling_at"] is not None:
        # after a cancel nothing counts as pending or in flight: finished once populated
        return wire.CANCELLED if started else wire.CANCELLING
    if row["failed_at"] is not None and not started:
        return wire.FAILED
    if not started:
        return wire.VALIDATING
    if row["status"] not in _FINISHED:
        return wire.IN_PROGRESS
    if failed_count(row, now) == row["total"]:
        return wire.FAILED
    if row["completed_at"] is not None:
        return wire.COMPLETED
    if row["failed_at"] is not None:
        return wire.FAILED
    return wire.FINALIZING


def _errors(raw: str | None) -> dict | None:
    """``{"data": [...]}`` without ``object``; anything else (an engine failure stored as
    ``{"message": ...}``) does not parse as the model and is left out, as there."""
    value = orjson.loads(raw) if raw else None
    items = value if isinstance(value, list) else (value or {}).get("data")
    if not isinstance(items, list) or not all(isinstance(e, dict) for e in items):
        return None
    return {"data": [{k: v for k, v in e.items() if v is not None} for e in items]}


def _stamp(value: float | None) -> int | None:
    return None if value is None else int(value)


def batch_object(row: dict, now: float) -> dict:
    """The batch as Doubleword returns it: nulls omitted, no ``usage`` and no ``model``."""
    shown = status(row, now)
    metadata = orjson.loads(row["metadata"]) if row["metadata"] else {}
    metadata = {k: v for k, v in metadata.items() if k not in ("created_by", "dw_user_agent")}
    obj = {
        "id": row["id"],
        "object": "batch",
        "endpoint": row["endpoint"],
        "errors": _errors(row["errors"]),
        "input_file_id": row["input_file_id"],
        "completion_window": row["completion_window"],
        "status": shown,
        "output_file_id": row["output_file_id"],
        "error_file_id": row["error_file_id"],
        "created_at": int(row["created_at"]),
        "in_progress_at": _stamp(row["in_progress_at"]) if shown != wire.VALIDATING else None,
        "expires_at": _stamp(row["expires_at"]),
        "finalizing_at": _stamp(row["finalizing_at"])
        if shown in (wire.FINALIZING, wire.COMPLETED)
        else None,
        "completed_at": _stamp(row["completed_at"]),
        "failed_at": _stamp(row["failed_at"]),
        # set on any batch viewed after its deadline, finished or not: the deadline itself
        "expired_at": _stamp(row["expires_at"])
        if row["expires_at"] is not None and now > row["expires_at"]
        else None,
        "cancelling_at": _stamp(row["cancelling_at"]),
        "cancelled_at": _stamp(row["cancelled_at"]),
        "request_counts": {
            "total": row["total"],
            "completed": row["completed"],
            "failed": failed_count(row, now),
        },
        "metadata": metadata or None,
        "dwext": {"source": metadata["request_source"]} if "request_source" in metadata else None,
    }
    return {k: v for k, v in obj.items() if v is not None}


def _decimal(pico: int, places: int | None) -> str:
    value = Decimal(pico).scaleb(-12)
    if places is None:
        text = format(value.normalize(), "f")
        return text if text != "-0" else "0"
    return f"{value:.{places}f}"


def analytics(row: dict) -> dict:
    """``BatchAnalytics`` of the 2xx answers so far; all zeros (and no cost fields) before
    the first one, as for a batch with no aggregates row."""
    if not row["ok_requests"]:
        return {
            "total_requests": 0,
            "total_prompt_tokens": 0,
            "total_completion_tokens": 0,
            "total_tokens": 0,
        }
    return {
        "total_requests": row["ok_requests"],
        "total_prompt_tokens": row["input_tokens"],
        "total_completion_tokens": row["output_tokens"],
        "total_tokens": row["input_tokens"] + row["output_tokens"],
        "avg_duration_ms": row["duration_ms"] / row["ok_requests"],
        # billed (DECIMAL(24, 15) in the ledger) and list price; no prompt cache here
        "total_cost": _decimal(row["cost_pico"], 15),
        "total_list_cost": _decimal(row["cost_pico"], None),
    }
