"""Which rows to send again, and their request lines, repacked within the per-file limits."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pandas as pd

from .. import wire

RETRY_STATUSES = ("failed", "expired", "cancelled", "not_run")


def ids_to_retry(
    out: pd.DataFrame,
    ids: Any,
    *,
    truncated: bool,
    unreadable: bool = False,
    unparsed: bool = False,
) -> set[str]:
    """The custom_ids of rows that failed, expired, never ran, (``truncated``) hit
    ``max_tokens``, (``unparsed``) answered but did not parse against the schema or
    (``unreadable``) came back unreadable; ``ids`` holds one custom_id per row of ``out``
    (None: not sent)."""
    again = out["status"].isin(RETRY_STATUSES + (("unreadable",) if unreadable else ()))
    if truncated:
        again |= out["finish_reason"].eq("length").fillna(False)
    if unparsed and "parse_error" in out.columns:
        again |= out["parse_error"].notna() & ~out["status"].isin(("unreadable",))
    return {ids[i] for i in np.flatnonzero(again.to_numpy()) if ids[i] is not None}


def lines_of(jsonl: bytes, wanted: set[str]) -> list[bytes]:
    """The lines of a request file whose custom_id is wanted, in file order."""
    return [
        line
        for line in jsonl.splitlines()
        if line.strip() and orjson.loads(line).get("custom_id") in wanted
    ]


def ids_in(jsonl: bytes, wanted: set[str]) -> set[str]:
    """The wanted custom_ids a request file holds."""
    return {
        cid
        for line in jsonl.splitlines()
        if line.strip() and (cid := orjson.loads(line).get("custom_id")) in wanted
    }


def override(line: bytes, body_overrides: dict[str, Any]) -> bytes:
    """A request line with body fields replaced."""
    if not body_overrides:
        return line
    request = orjson.loads(line)
    request["body"].update(body_overrides)
    return orjson.dumps(request)


def pack_for(spec: dict[str, Any], lines: list[bytes]) -> list[bytes]:
    """Request lines packed within the job's per-file limits."""
    return pack(
        lines,
        spec.get("max_requests", wire.MAX_REQUESTS_PER_FILE),
        spec.get("max_bytes", wire.MAX_FILE_BYTES),
    )


def pack(lines: list[bytes], max_requests: int, max_bytes: int) -> list[bytes]:
    """Request lines packed into JSONL files within the per-file limits."""
    chunks: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for line in lines:
        if current and (len(current) >= max_requests or size + len(line) + 1 > max_bytes):
            chunks.append(b"\n".join(current) + b"\n")
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        chunks.append(b"\n".join(current) + b"\n")
    return chunks
