"""Doubleword batch create checks and the batch list, as the control layer does them
(``dwctl/src/api/handlers/batches.rs``: ``create_batch``, ``list_batches``; the search and
ordering of ``fusillade-arsenal/src/postgres.rs``, ``list_batches``)."""

from __future__ import annotations

import json
import uuid

from starlette.datastructures import QueryParams

from dw_notebook import wire
from dw_notebook.server import dw_objects
from dw_notebook.server.dw_upload import ALLOWED_URLS

DEFAULT_LIMIT, MAX_LIMIT = 20, 101  # CursorPagination::limit() clamps to 1..=101
_DESERIALIZE = "Failed to deserialize the JSON body into the target type: "


def create_problem(body: dict) -> tuple[int, str] | None:
    """(status, text) refusing a create body, or None; nothing is written on a refusal."""
    for name in ("input_file_id", "endpoint", "completion_window"):
        if name not in body:
            return 422, f"{_DESERIALIZE}missing field `{name}`"
        if not isinstance(body[name], str):
            return 422, f"{_DESERIALIZE}{name}: invalid type: expected a string"
    metadata = body.get("metadata")
    if metadata is not None and (
        not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values())
    ):  # a map of strings; no limit on keys or lengths
        return 422, f"{_DESERIALIZE}metadata: invalid type: expected a map of strings"
    windows = tuple(wire.COMPLETION_WINDOWS)
    if body["completion_window"] not in windows:
        return 400, f"Unsupported completion_window. Allowed values: {', '.join(windows)}"
    if body["endpoint"] not in ALLOWED_URLS:
        return 400, (
            f"Unsupported endpoint '{body['endpoint']}'. Supported: {', '.join(ALLOWED_URLS)}"
        )
    try:
        uuid.UUID(body["input_file_id"])
    except ValueError:
        return 400, "Invalid input_file_id format"
    return None


def stored_metadata(metadata: dict | None) -> str:
    """What create stores: the caller's keys less the reserved ones, plus the source, as
    Postgres renders jsonb text (which ``search`` matches against)."""
    kept = {k: v for k, v in (metadata or {}).items() if not dw_objects.is_reserved_key(k)}
    kept["request_source"] = "api"
    return json.dumps(kept, ensure_ascii=False)


def list_args(params: QueryParams) -> tuple[str | None, int, bool, str | None] | str:
    """(after, limit, active_first, search pattern) or the text of a 400."""
    raw = params.get("limit")
    try:
        limit = DEFAULT_LIMIT if raw is None else min(max(int(raw), 1), MAX_LIMIT)
    except ValueError:
        return "Failed to deserialize query string: limit: invalid digit found in string"
    active = params.get("active_first", "false")
    if active not in ("true", "false"):
        return (
            "Failed to deserialize query string: active_first: "
            "provided string was not `true` or `false`"
        )
    search = params.get("search")
    pattern = f"%{search.lower()}%" if search is not None else None  # LIKE: % and _ are wild
    return params.get("after"), limit, active == "true", pattern
