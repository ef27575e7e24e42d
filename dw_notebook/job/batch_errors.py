"""A batch's own errors (``errors.data``: code, message, line, param) laid onto the rows they name.

A batch that fails validation writes no result lines: its reasons are only in the batch object.
Each error that names an input line is given to that line's custom_id (read from the input
file, in line order); one that names no line is given to every row of the batch; and the other
rows of a failed batch are told that they never ran because the batch failed. They come back as
error lines, so the join treats them like any other failure (a real answer still wins).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from .. import wire
from ..errors import BATCH_ERROR_ADVICE
from ..jsonl.results import salvage_fields


def batch_errors(batch: dict[str, Any]) -> list[dict[str, Any]]:
    """The items of a (normalised) batch's ``errors.data``."""
    return list((batch.get("errors") or {}).get("data") or [])


def input_ids(data: bytes) -> list[str | None]:
    """The custom_id of every line of an input file (line ``n`` is item ``n - 1``)."""
    ids: list[str | None] = []
    for line in data.split(b"\n"):
        cid = None
        try:
            obj = orjson.loads(line) if line.strip() else None
            cid = obj.get("custom_id") if isinstance(obj, dict) else None
        except orjson.JSONDecodeError:
            cid = salvage_fields(line).get("custom_id")
        ids.append(cid if isinstance(cid, str) else None)
    return ids


def describe(batch_id: str, error: dict[str, Any]) -> str:
    """'batch b1: model_not_found: The model ... (input line 3, body.model). Fix: ...'."""
    code, message = error.get("code"), error.get("message") or ""
    text = f"{code}: {message}" if code and message else str(message or code or "unknown error")
    where = [f"input line {error['line']}"] if error.get("line") is not None else []
    where += [error["param"]] if error.get("param") else []
    text += f" ({', '.join(where)})" if where else ""
    advice = BATCH_ERROR_ADVICE.get(code or "")
    return f"batch {batch_id}: {text}" + (f". {advice}" if advice else "")


def error_lines(batch: dict[str, Any], read_input: Callable[[str], bytes]) -> bytes:
    """Error lines (JSONL) for the rows a finished batch's errors name; b'' when it has none.

    ``read_input(file_id)`` gives the batch's input file (b'' when it is gone).
    """
    errors = batch_errors(batch)
    if not errors or batch.get("status") not in wire.TERMINAL_STATUSES:
        return b""
    file_id = batch.get("input_file_id")
    ids = input_ids(read_input(file_id)) if file_id else []
    everyone = [cid for cid in ids if cid is not None]
    found: dict[str, str] = {}
    for error in errors:
        line = error.get("line")
        if line is None:
            targets = everyone
        else:
            cid = ids[line - 1] if 1 <= line <= len(ids) else None
            targets = [cid] if cid is not None else []
        for cid in targets:
            found.setdefault(cid, describe(batch["id"], error))
    if batch.get("status") == wire.FAILED:
        why = describe(batch["id"], errors[0])
        note = f"not run: the batch failed validation, so none of its requests ran ({why})"
        for cid in everyone:
            found.setdefault(cid, note)
    return b"".join(
        orjson.dumps({"custom_id": cid, "response": None, "error": {"message": text}}) + b"\n"
        for cid, text in found.items()
    )


def rows_of_batch_errors(
    records: Iterable[Any],
    batches: Mapping[str, dict[str, Any]],
    download: Callable[[str], bytes],
    built: Any = None,
    spec: Mapping[str, Any] | None = None,
) -> list[tuple[str, bytes, str]]:
    """``(batch id, error lines, source)`` for every finished batch of ``records`` that lists
    errors. The input file is read from the service, or, when it is gone, from ``built``."""
    pieces = []
    for record in records:
        batch = batches.get(record.batch_id or "")
        if batch is None or not batch_errors(batch):
            continue

        def read_input(file_id: str, record: Any = record) -> bytes:
            data = download(file_id)
            rebuildable = record.attempt == 0 and not (spec or {}).get("pilot")
            if not data and built is not None and rebuildable:
                chunks = built.chunks(
                    max_requests=(spec or {}).get("max_requests", wire.MAX_REQUESTS_PER_FILE),
                    max_bytes=(spec or {}).get("max_bytes", wire.MAX_FILE_BYTES),
                )
                data = chunks[record.chunk].data if record.chunk < len(chunks) else b""
            return data

        data = error_lines(batch, read_input)
        if data:
            pieces.append((batch["id"], data, f"errors.data of batch {batch['id']}"))
    return pieces
