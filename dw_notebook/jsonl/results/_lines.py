"""Result lines -> a columnar table, one row per line: the parsing half of the join.

Each piece of an output or error file is read by Arrow's JSON reader with a schema naming only
the fields the join uses. Anything that reader refuses (a malformed line, an unexpected type)
is retried in smaller blocks, and a block that still fails is read line by line with orjson,
which reports the exact bad lines. Both paths give the same columns (``RESULT_SCHEMA``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from dw_notebook import wire

OK, FAILED, EXPIRED, CANCELLED, NOT_RUN, SKIPPED = (
    "ok",
    "failed",
    "expired",
    "cancelled",
    "not_run",
    "skipped",
)
STATUSES = (OK, FAILED, EXPIRED, CANCELLED, NOT_RUN, SKIPPED)  # categories of ``status``
_CODE = {name: i for i, name in enumerate(STATUSES)}
_MAX_MALFORMED_KEPT = 100
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_FAST_MIN_BYTES = 32 * 1024  # smaller pieces go straight to the per-line parser
_READ_BLOCK = 4 << 20
_RETRY_BLOCK = 1 << 20  # a piece the Arrow reader refuses is retried in blocks this size

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


class _Malformed(ValueError):
    pass


def _line_record(obj: Any) -> dict[str, Any]:
    """The result columns of one parsed line (raises ``_Malformed`` when it is not a result)."""
    if not isinstance(obj, dict):
        raise _Malformed("line is not a JSON object")
    cid = obj.get("custom_id")
    if not isinstance(cid, str):
        raise _Malformed("custom_id is missing or not a string")
    resp, err = obj.get("response"), obj.get("error")
    rec: dict[str, Any] = {"custom_id": cid}
    if isinstance(resp, dict):
        code = resp.get("status_code")
        code = 200 if code is None else code
        if not isinstance(code, int):
            raise _Malformed("response.status_code is not an integer")
        body = resp.get("body")
        if code < 400 and err is None:
            rec["status"] = OK
            _answer(body if isinstance(body, dict) else {}, rec)
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
    raise _Malformed("line has neither a response nor an error")


def _answer(body: dict, rec: dict[str, Any]) -> None:
    usage = body.get("usage")
    if isinstance(usage, dict):
        rec["prompt_tokens"] = _int_or_none(usage.get("prompt_tokens"))
        rec["completion_tokens"] = _int_or_none(usage.get("completion_tokens"))
    choices = body.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        choice = choices[0]
        rec["finish_reason"] = _str_or_none(choice.get("finish_reason"))
        message = choice.get("message")
        if isinstance(message, dict):
            rec["content"] = _str_or_none(message.get("content"))
            calls = message.get("tool_calls")
            if isinstance(calls, list) and calls and isinstance(calls[0], dict):
                fn = calls[0].get("function") or {}
                rec["tool_name"] = _str_or_none(fn.get("name"))
                args = fn.get("arguments")
                rec["tool_arguments"] = (
                    args if isinstance(args, str) or args is None else (orjson.dumps(args).decode())
                )
        if rec.get("content") is None:
            rec["content"] = _str_or_none(choice.get("text"))
    data = body.get("data")
    if isinstance(data, list) and data and isinstance(data[0], dict):
        emb = data[0].get("embedding")
        if isinstance(emb, list):
            rec["embedding"] = [float(x) for x in emb]


def _int_or_none(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and INT64_MIN <= value <= INT64_MAX:
        return value
    return None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _records_table(records: list[dict[str, Any]], batch_id: str | None) -> pa.Table:
    columns = {}
    for field in RESULT_SCHEMA:
        if field.name == "batch_id":
            columns["batch_id"] = pa.array([batch_id] * len(records), pa.string())
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
    """A chat-only schema met answers of another shape (completions text, embeddings)."""


def _fast_table(data: bytes, batch_id: str | None) -> pa.Table | None:
    """The piece parsed by Arrow, or ``None`` when it needs the per-line parser.

    Chat answers are read first with a chat-only schema (the common case, and the cheapest);
    a piece with answers that have no ``message`` is read again with the other shapes' fields.
    """
    tools = b'"tool_calls"' in data
    try:
        return _read_table(data, batch_id, line_schema(tools, False, False), chat_only=True)
    except _NeedsMoreFields:
        return _read_table(data, batch_id, line_schema(tools, True, True), chat_only=False)


def _read_table(
    data: bytes, batch_id: str | None, schema: pa.Schema, chat_only: bool
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
        table = _batch_table(batch, batch_id, chat_only)
        if table is None:
            return None
        tables.append(table)
    return pa.concat_tables(tables) if tables else RESULT_SCHEMA.empty_table()


def _batch_table(raw: pa.RecordBatch, batch_id: str | None, chat_only: bool) -> pa.Table | None:
    """Result columns of one block of parsed lines (``None``: needs the per-line parser)."""
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
    if chat_only and pc.any(pc.and_(ok_mask, message.is_null())).as_py():
        raise _NeedsMoreFields
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
        "batch_id": pa.array([batch_id] * n, pa.string()),
    }
    return pa.table(columns, schema=RESULT_SCHEMA)


# --- the table --------------------------------------------------------------------------------


class ResultTable:
    """Parsed result lines from any number of files and batches, fed in whole-line pieces::

    table = ResultTable()
    table.add(output_bytes, batch_id="batch_1")
    table.add(error_bytes, batch_id="batch_1")
    """

    def __init__(self) -> None:
        self.pieces: list[pa.Table] = []
        self.malformed: list[dict[str, Any]] = []
        self.malformed_count = 0
        self.lines = 0

    def add(
        self, data: bytes | bytearray | memoryview, batch_id: str | None = None, source: str = ""
    ) -> int:
        """Parse whole JSONL lines; returns how many result lines were read."""
        raw = bytes(data)
        if not raw or raw.isspace():
            return 0
        tables = self._parse(raw, batch_id, source, first_line=1, whole=True)
        self.pieces.extend(tables)
        read = sum(t.num_rows for t in tables)
        self.lines += read
        return read

    def _parse(
        self, raw: bytes, batch_id: str | None, source: str, first_line: int, whole: bool
    ) -> list[pa.Table]:
        """Arrow's reader where it can; a piece it refuses is retried in smaller blocks, and
        only the blocks that still fail are read line by line (with exact line numbers)."""
        table = _fast_table(raw, batch_id) if len(raw) >= _FAST_MIN_BYTES else None
        if table is not None:
            return [table]
        if not whole or len(raw) < 2 * _RETRY_BLOCK:
            return [self._parse_lines(raw, batch_id, source, first_line)]
        tables, start, line = [], 0, first_line
        while start < len(raw):
            end = raw.find(b"\n", min(start + _RETRY_BLOCK, len(raw)) - 1)
            end = len(raw) if end < 0 else end + 1
            block = raw[start:end]
            tables.extend(self._parse(block, batch_id, source, line, whole=False))
            line += block.count(b"\n")
            start = end
        return tables

    def _parse_lines(
        self, raw: bytes, batch_id: str | None, source: str, first_line: int = 1
    ) -> pa.Table:
        records = []
        for number, line in enumerate(raw.split(b"\n"), start=first_line):
            if not line.strip():
                continue
            try:
                records.append(_line_record(orjson.loads(line)))
            except (orjson.JSONDecodeError, _Malformed) as exc:
                self.malformed_count += 1
                if len(self.malformed) < _MAX_MALFORMED_KEPT:
                    self.malformed.append(
                        {
                            "source": source,
                            "line": number,
                            "reason": f"{type(exc).__name__}: {exc}",
                            "text": line[:200].decode("utf-8", "replace"),
                        }
                    )
        return _records_table(records, batch_id)

    def table(self) -> pa.Table:
        """Every parsed line, in the order fed (duplicates included)."""
        if not self.pieces:
            return RESULT_SCHEMA.empty_table()
        return pa.concat_tables(self.pieces)

    def __len__(self) -> int:
        """Distinct custom_ids seen."""
        return len(pc.unique(self.table().column("custom_id")))


def _pieces(items: Iterable[Any], kind: str) -> Iterable[tuple[bytes, str | None, str]]:
    for number, item in enumerate(items or ()):
        batch_id, data = item if isinstance(item, tuple) else (None, item)
        yield data, batch_id, f"{kind}[{number}]"


def parse_results(
    outputs: Iterable[bytes | tuple[str, bytes]] = (),
    errors: Iterable[bytes | tuple[str, bytes]] = (),
    table: ResultTable | None = None,
) -> ResultTable:
    """Parse output and error files (bytes, or ``(batch_id, bytes)``) into a ``ResultTable``."""
    table = table if table is not None else ResultTable()
    for data, batch_id, source in _pieces(outputs, "outputs"):
        table.add(data, batch_id, source)
    for data, batch_id, source in _pieces(errors, "errors"):
        table.add(data, batch_id, source)
    return table
