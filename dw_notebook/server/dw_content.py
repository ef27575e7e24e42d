"""Doubleword ``GET /files/{id}/content``: ``skip``/``limit`` only, and the progress headers
as the control layer computes them (``dwctl/src/api/handlers/files.rs``,
``get_file_content``)."""

from __future__ import annotations

from starlette.datastructures import QueryParams
from starlette.responses import Response

from dw_notebook import wire
from dw_notebook.server import dw_objects
from dw_notebook.server.files import slice_lines

MAX_LIMIT = 101  # Pagination::limit() clamps to 1..=101 (default 10 is used only if given)
NDJSON = "application/x-ndjson"


class QueryError(ValueError):
    """A query parameter that is not an integer (axum's Query extractor answers 400)."""


def _int(params: QueryParams, name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise QueryError(
            f"Failed to deserialize query string: {name}: invalid digit found in string"
        ) from None


def finished(batch: dict) -> bool:
    """``BatchStatus::is_finished``: completed + failed + canceled == total. Canceled counts
    everything not done once a populated batch is cancelled; before population nothing is
    (so a batch cancelled or failed before population never finishes)."""
    if batch["in_progress_at"] is None:
        return batch["total"] == 0
    if batch["cancelling_at"] is not None:
        return True
    return batch["status"] in (wire.FINALIZING, wire.COMPLETED, wire.FAILED, wire.CANCELLED)


def content(data: bytes, params: QueryParams, batch: dict | None, is_output: bool, now: float):
    """The response for one file's committed ``data`` (``batch``: the batch writing it)."""
    skip = max(0, _int(params, "skip") or 0)  # an unknown ``offset`` is not read
    limit = _int(params, "limit")
    more_coming, count = False, None
    if batch is not None:
        more_coming = not finished(batch)
        count = batch["completed"] if is_output else dw_objects.failed_count(batch, now)
    headers = {}
    if limit is not None:
        limit = min(max(limit, 1), MAX_LIMIT)
        body, sent, total = slice_lines(data, skip, limit + 1)
        has_more = sent > limit
        body, sent, _ = slice_lines(body, 0, limit)
        headers["X-Last-Line"] = str(skip + sent)
        headers["X-Incomplete"] = "true" if has_more or more_coming else "false"
        return Response(body, headers=headers, media_type=NDJSON)
    expected = None if count is None else max(0, count - skip)
    body, _, _ = slice_lines(data, skip, expected)
    headers["X-Incomplete"] = "true" if more_coming else "false"
    if expected is not None:  # from the batch's counts, not from the lines sent
        headers["X-Last-Line"] = str(skip + expected)
    return Response(body, headers=headers, media_type=NDJSON)
