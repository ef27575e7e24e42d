"""Result lines -> result columns: the row statuses, and both ways of parsing lines.

Arrow's JSON reader with a schema naming only the fields the join uses is the fast path
(``fast_table``); the per-line parser (``line_record``, orjson, then a lenient reader, then
field-by-field salvage) is the reference, and reports every line it cannot read plainly. Both
give the same columns (``RESULT_SCHEMA``). ``_table.ResultTable`` decides which runs where.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from dw_notebook import wire
from dw_notebook.jsonl.results._body import answer_fields, has_answer
from dw_notebook.jsonl.results._salvage import lenient_loads, salvage_fields

OK, FAILED, EXPIRED, CANCELLED, NOT_RUN, SKIPPED, UNREADABLE, UNPARSED = (
    "ok",  # answered: the answer is in the row (parsed, with a schema)
    "failed",  # the request failed (HTTP error or other failure); the reason is in ``error``
    "expired",  # never ran: the completion window ended first
    "cancelled",  # never ran: the batch was cancelled first
    "not_run",  # no line for the row in any file (yet)
    "skipped",  # left out at build time by ``missing="skip"``
    "unreadable",  # a line for the row came back but its answer could not be read (``error``)
    "unparsed",  # answered, but the answer does not fit the schema (``parse_error`` says why)
)
# The one list of row statuses (categories of ``status``); new ones go at the end.
STATUSES = (OK, FAILED, EXPIRED, CANCELLED, NOT_RUN, SKIPPED, UNREADABLE, UNPARSED)
_CODE = {name: i for i, name in enumerate(STATUSES)}
_READ_BLOCK = 4 << 20
_SNIFF = 64 << 10  # the head of a piece that picks the fields to read

# One parsed piece: a table with exactly these columns.
RESULT_SCHEMA = pa.schema(
    [
        ("custom_id", pa.large_string()),
        ("status", pa.int8()),  # index into STATUSES
        ("error", pa.large_string()),
        ("content", pa.large_string()),
        ("finish_reason", pa.string()),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("tool_name", pa.string()),
        ("tool_arguments", pa.large_string()),
        ("embedding", pa.list_(pa.float64())),
        ("batch_id", pa.string()),
    ]
)

_ERROR = pa.struct([("code", pa.string()), ("message", pa.string())])
_FUNCTION = pa.struct([("name", pa.string()), ("arguments", pa.large_string())])
_TOOL_CALLS = pa.list_(pa.struct([("function", _FUNCTION)]))
_USAGE = pa.struct([("prompt_tokens", pa.int64()), ("completion_tokens", pa.int64())])
_EMBEDDINGS = pa.list_(pa.struct([("embedding", pa.list_(pa.float64()))]))


@functools.lru_cache(maxsize=8)
def line_schema(tools: bool, text: bool, embeddings: bool) -> pa.Schema:
    """Only the fields the join uses; the reader skips everything else in a line.

    Fields that the bytes never mention are left out: fewer columns to build is faster.
    """
    message = [("content", pa.large_string())] + ([("tool_calls", _TOOL_CALLS)] if tools else [])
    choice = [("message", pa.struct(message)), ("finish_reason", pa.string())]
    choice += [("text", pa.large_string())] if text else []
    body = [("choices", pa.list_(pa.struct(choice))), ("usage", _USAGE)]
    body += [("data", _EMBEDDINGS)] if embeddings else []
    body += [("error", _ERROR), ("message", pa.string())]
    response = pa.struct([("status_code", pa.int64()), ("body", pa.struct(body))])
    return pa.schema([("custom_id", pa.large_string()), ("response", response), ("error", _ERROR)])


def _status_for_code(code: object) -> str:
    if code == wire.EXPIRED_CODE:
        return EXPIRED
    if code in wire.NOT_RUN_CODES:
        return CANCELLED
    return FAILED


def _error_text(code: object, message: object) -> str:
    if code and message:
        return f"{code}: {message}"
    return str(message or code or "unknown error")


# --- per-line parser (reference semantics; reports bad lines) -------------------------------


class Malformed(ValueError):
    pass


def _unreadable(cid: str, reason: str) -> dict[str, Any]:
    return {"custom_id": cid, "status": UNREADABLE, "error": reason}


def line_record(obj: Any) -> dict[str, Any]:
    """The result columns of one parsed line.

    Raises ``Malformed`` when the line names no custom_id; a line that names one but holds no
    readable outcome gives an ``unreadable`` record whose ``error`` says why.
    """
    if not isinstance(obj, dict):
        raise Malformed("line is not a JSON object")
    cid = obj.get("custom_id")
    if not isinstance(cid, str):
        raise Malformed("custom_id is missing or not a string")
    resp, err = obj.get("response"), obj.get("error")
    rec: dict[str, Any] = {"custom_id": cid}
    if isinstance(resp, dict):
        code = resp.get("status_code")
        code = 200 if code is None else code
        if not isinstance(code, int) or isinstance(code, bool):
            return _unreadable(cid, "response.status_code is not an integer")
        body = resp.get("body")
        if isinstance(body, str):  # some servers write the body as a JSON string
            try:
                body = orjson.loads(body) if body.strip() else None
            except orjson.JSONDecodeError:
                try:
                    body = lenient_loads(body.encode("utf-8", "surrogatepass"))
                except ValueError:
                    body = body if code >= 400 else None
                    if code < 400 and err is None:
                        return _unreadable(cid, f"HTTP {code}: response.body is not JSON")
        if code < 400 and err is None:
            if not isinstance(body, dict):
                return _unreadable(cid, f"HTTP {code} with no response body")
            fields = answer_fields(body)
            if not has_answer(fields):
                keys = ", ".join(sorted(map(str, body))[:8]) or "none"
                return _unreadable(cid, f"HTTP {code} with no answer in the body (keys: {keys})")
            rec["status"] = OK
            rec.update(fields)
            return rec
        if code >= 400:
            error = body.get("error") if isinstance(body, dict) else None
            if isinstance(error, dict):
                c, text = error.get("code"), _error_text(error.get("code"), error.get("message"))
            else:
                c = None
                text = str(error or (body.get("message") if isinstance(body, dict) else body) or "")
            rec["status"] = _status_for_code(c)
            rec["error"] = f"HTTP {code}: {text}" if text else f"HTTP {code}"
            return rec
    if isinstance(err, dict):
        rec["status"] = _status_for_code(err.get("code"))
        rec["error"] = _error_text(err.get("code"), err.get("message"))
        return rec
    if err is not None:
        rec["status"] = FAILED
        rec["error"] = str(err)
        return rec
    return _unreadable(cid, "line has neither a response nor an error")


def salvaged_record(line: bytes) -> dict[str, Any]:
    """A row from the fields of a line that is not JSON (raises ``Malformed`` without an id)."""
    found = salvage_fields(line)
    cid = found.get("custom_id")
    if cid is None:
        raise Malformed("not JSON, and no custom_id found in it")
    code = found.get("status_code")
    if code is not None and code >= 400:
        text = found.get("message")
        return {
            "custom_id": cid,
            "status": FAILED,
            "error": f"HTTP {code}: {text}" if text else f"HTTP {code}",
        }
    if code is not None and found.get("content") is not None:
        return {
            "custom_id": cid,
            "status": OK,
            "content": found["content"],
            "finish_reason": found.get("finish_reason"),
        }
    return _unreadable(cid, "the line is not JSON and no answer could be picked out of it")


def _repeat(batch_id: str | None, n: int) -> pa.Array:
    """The batch id column of ``n`` lines, without a Python list of ``n`` references."""
    return pa.repeat(pa.scalar(batch_id, pa.string()), n)


def records_table(records: list[dict[str, Any]], batch_id: str | None) -> pa.Table:
    columns = {}
    for field in RESULT_SCHEMA:
        if field.name == "batch_id":
            columns["batch_id"] = _repeat(batch_id, len(records))
        elif field.name == "status":
            columns["status"] = pa.array([_CODE[r["status"]] for r in records], pa.int8())
        else:
            columns[field.name] = pa.array([r.get(field.name) for r in records], field.type)
    return pa.table(columns, schema=RESULT_SCHEMA)


# --- Arrow fast path --------------------------------------------------------------------------


def _first(lists: pa.Array) -> pa.Array:
    """First element of every list (null where the list is null or empty)."""
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    lengths = pc.list_value_length(lists).fill_null(0).to_numpy(zero_copy_only=False)
    starts = lists.offsets.to_numpy()[:-1]
    if len(lists) and lists.null_count == 0 and (lengths == 1).all():
        return lists.values.slice(int(starts[0]), len(lists))  # the usual case: no copy
    return lists.values.take(pa.array(starts, mask=lengths == 0))


def _field(struct: pa.Array, *names: str) -> pa.Array:
    for name in names:
        struct = pc.struct_field(struct, name)
    return struct


class _NeedsMoreFields(Exception):
    """A schema picked from a piece's first lines met answers in fields it left out."""


def fast_table(data: bytes, batch_id: str | None) -> pa.Table | None:
    """The piece parsed by Arrow, or ``None`` when it needs the per-line parser.

    The schema holds tool calls where the piece has any, and completions text and embeddings
    where its first lines name them (chat answers alone are the common case, and the cheapest);
    a piece whose later lines answer in those fields is read again with every field. Sniffing
    the head for them saves two scans of the whole piece holding the GIL.
    """
    # quotes inside JSON strings are escaped: these are keys. A line may carry text and tool
    # calls both, and counts as answered by its text, so tool calls are searched for in every
    # byte; an answer only in text or embedding fields shows as unanswered when left out.
    tools = b'"tool_calls"' in data
    head = data[:_SNIFF]
    other = b'"text"' in head or b'"embedding"' in head
    try:
        return _read_table(data, batch_id, line_schema(tools, other, other), complete=other)
    except _NeedsMoreFields:
        return _read_table(data, batch_id, line_schema(tools, True, True), complete=True)


def _read_table(
    data: bytes, batch_id: str | None, schema: pa.Schema, complete: bool
) -> pa.Table | None:
    try:
        raw = pa_json.read_json(
            pa.BufferReader(data),
            read_options=pa_json.ReadOptions(block_size=_READ_BLOCK),
            parse_options=pa_json.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="ignore"
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    tables = []
    for batch in raw.to_batches():  # one per reader block: no copy into one big chunk
        table = _batch_table(batch, batch_id, complete)
        if table is None:
            return None
        tables.append(table)
    return pa.concat_tables(tables) if tables else RESULT_SCHEMA.empty_table()


def _batch_table(raw: pa.RecordBatch, batch_id: str | None, complete: bool) -> pa.Table | None:
    """Result columns of one block of parsed lines (``None``: needs the per-line parser;
    ``_NeedsMoreFields``: a 2xx line's answer may be in a field a schema not ``complete`` left
    out)."""
    n = raw.num_rows
    cid = raw.column("custom_id")
    resp = raw.column("response")
    err = raw.column("error")
    if cid.null_count:
        return None
    code = pc.struct_field(resp, "status_code").fill_null(200).to_numpy(zero_copy_only=False)
    has_resp = resp.is_valid().to_numpy(zero_copy_only=False)
    has_err = err.is_valid().to_numpy(zero_copy_only=False)
    ok = has_resp & (code < 400) & ~has_err
    http = has_resp & (code >= 400)
    other = ~ok & ~http & has_err
    if not (ok | http | other).all():
        return None  # a line with neither response nor error: report it exactly

    status = np.zeros(n, dtype=np.int8)  # OK
    error: list[str | None] = [None] * n
    body = pc.struct_field(resp, "body")
    if http.any():
        rows = np.flatnonzero(http)
        body_err = pc.struct_field(body, "error").take(pa.array(rows)).to_pylist()
        body_msg = pc.struct_field(body, "message").take(pa.array(rows)).to_pylist()
        for i, e, m in zip(rows.tolist(), body_err, body_msg, strict=True):
            c = e["code"] if e else None
            text = _error_text(c, e["message"]) if e else (m or "")
            status[i] = _CODE[_status_for_code(c)]
            error[i] = f"HTTP {int(code[i])}: {text}" if text else f"HTTP {int(code[i])}"
    if other.any():
        rows = np.flatnonzero(other)
        for i, e in zip(rows.tolist(), err.take(pa.array(rows)).to_pylist(), strict=True):
            status[i] = _CODE[_status_for_code(e["code"])]
            error[i] = _error_text(e["code"], e["message"])

    all_ok = bool(ok.all())
    ok_mask = pa.array(ok)

    def answer(arr: pa.Array, typ: pa.DataType) -> pa.Array:
        if arr.null_count == len(arr):
            return pa.nulls(len(arr), typ)
        arr = arr.cast(typ) if arr.type != typ else arr
        return arr if all_ok else pc.if_else(ok_mask, arr, pa.nulls(len(arr), typ))

    def present(arr: pa.Array) -> bool:
        return arr.null_count < len(arr)

    def child(struct: pa.Array, name: str, typ: pa.DataType) -> pa.Array:
        """A struct field, or nulls when the schema left it out (its name is not in the data)."""
        if struct.type.get_field_index(name) < 0:
            return pa.nulls(n, typ)
        return pc.struct_field(struct, name)

    choices = pc.struct_field(body, "choices")
    choice = _first(choices) if present(choices) else pa.nulls(n, choices.type.value_type)
    message = pc.struct_field(choice, "message")
    content = pc.struct_field(message, "content")
    text = child(choice, "text", pa.large_string())
    if present(text):
        content = pc.coalesce(content, text)
    calls = child(message, "tool_calls", _TOOL_CALLS)
    call = _first(calls) if present(calls) else pa.nulls(n, _TOOL_CALLS.value_type)
    data = child(body, "data", _EMBEDDINGS)
    embedding = (
        pc.struct_field(_first(data), "embedding")
        if present(data)
        else pa.nulls(n, pa.list_(pa.float64()))
    )
    tool_name = _field(call, "function", "name")
    answered = pc.or_(pc.or_(content.is_valid(), tool_name.is_valid()), embedding.is_valid())
    if pc.any(pc.and_(ok_mask, pc.invert(answered))).as_py():
        if not complete:
            raise _NeedsMoreFields
        return None  # a 2xx without an answer is reported exactly, line by line
    if error.count(None) == n:
        error_array = pa.nulls(n, pa.large_string())
    else:
        error_array = pa.array(error, pa.large_string())
    columns = {
        "custom_id": cid,
        "status": pa.array(status, pa.int8()),
        "error": error_array,
        "content": answer(content, pa.large_string()),
        "finish_reason": answer(pc.struct_field(choice, "finish_reason"), pa.string()),
        "prompt_tokens": answer(_field(body, "usage", "prompt_tokens"), pa.int64()),
        "completion_tokens": answer(_field(body, "usage", "completion_tokens"), pa.int64()),
        "tool_name": answer(_field(call, "function", "name"), pa.string()),
        "tool_arguments": answer(_field(call, "function", "arguments"), pa.large_string()),
        "embedding": answer(embedding, pa.list_(pa.float64())),
        "batch_id": _repeat(batch_id, n),
    }
    return pa.table(columns, schema=RESULT_SCHEMA)
