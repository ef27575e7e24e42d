"""Output and error lines -> result columns on a copy of the DataFrame, joined by custom_id only.

``parse_results`` reads any number of output/error files (or pieces of them, whole lines each)
into a ``ResultTable``; ``join_results`` lays it onto the DataFrame rows, in the DataFrame's order.

Row status: ``ok`` (answered), ``failed`` (HTTP error or other failure), ``expired`` / ``cancelled``
(never ran: ``batch_expired`` / ``batch_cancelled``-like codes), ``not_run`` (in no file yet), and
``skipped`` (left out at build time by ``missing="skip"``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import orjson
import pandas as pd

from dw_notebook import wire

OK, FAILED, EXPIRED, CANCELLED, NOT_RUN, SKIPPED = (
    "ok", "failed", "expired", "cancelled", "not_run", "skipped",
)
META_COLUMNS = (
    "status", "error", "finish_reason", "prompt_tokens", "completion_tokens", "batch_id",
)
_MAX_MALFORMED_KEPT = 100


def _status_for_code(code: object) -> str:
    if code == wire.EXPIRED_CODE:
        return EXPIRED
    if code in wire.NOT_RUN_CODES:
        return CANCELLED
    return FAILED


def _error_text(error: object) -> str:
    if isinstance(error, dict):
        code, message = error.get("code"), error.get("message")
        if code and message:
            return f"{code}: {message}"
        return str(message or code or orjson.dumps(error).decode())
    return str(error)


class ResultTable:
    """Parsed results, one entry per custom_id (an ``ok`` answer beats a failure; else latest).

    Feed it whole lines, in any number of pieces, from any number of files and batches::

        table = ResultTable()
        table.add(output_bytes, batch_id="batch_1")
        table.add(error_bytes, batch_id="batch_1")
    """

    _FIELDS = (
        "status", "error", "content", "finish_reason", "prompt_tokens", "completion_tokens",
        "batch_id", "tool_name", "tool_arguments", "embedding",
    )

    def __init__(self) -> None:
        self.pos: dict[str, int] = {}
        self.cols: dict[str, list[Any]] = {f: [] for f in self._FIELDS}
        self.malformed: list[dict[str, Any]] = []
        self.malformed_count = 0
        self.lines = 0
        self.has_tool_calls = False
        self.has_embeddings = False

    def __len__(self) -> int:
        return len(self.pos)

    def add(self, data: bytes | bytearray | memoryview, batch_id: str | None = None,
            source: str = "") -> int:
        """Parse whole JSONL lines; returns how many lines were read (malformed ones included)."""
        raw = bytes(data)
        count = 0
        for number, line in enumerate(raw.split(b"\n"), start=1):
            if not line.strip():
                continue
            count += 1
            try:
                obj = orjson.loads(line)
                self._add_obj(obj, batch_id)
            except (orjson.JSONDecodeError, TypeError, KeyError, AttributeError,
                    IndexError, ValueError) as exc:
                self._malformed(source, number, line, exc)
        self.lines += count
        return count

    def _malformed(self, source: str, number: int, line: bytes, exc: Exception) -> None:
        self.malformed_count += 1
        if len(self.malformed) < _MAX_MALFORMED_KEPT:
            self.malformed.append({
                "source": source, "line": number,
                "reason": f"{type(exc).__name__}: {exc}",
                "text": line[:200].decode("utf-8", "replace"),
            })

    def _add_obj(self, obj: Any, batch_id: str | None) -> None:
        if not isinstance(obj, dict):
            raise TypeError("line is not a JSON object")
        cid = obj["custom_id"]
        if not isinstance(cid, str):
            raise TypeError("custom_id is not a string")
        resp = obj.get("response")
        err = obj.get("error")
        rec: dict[str, Any] = {"batch_id": batch_id}
        status_code = resp.get("status_code", 200) if isinstance(resp, dict) else None
        if isinstance(resp, dict) and status_code is not None and status_code < 400 and not err:
            rec["status"] = OK
            self._answer(resp.get("body") or {}, rec)
        elif isinstance(resp, dict) and status_code is not None and status_code >= 400:
            body = resp.get("body")
            error = body.get("error", body) if isinstance(body, dict) else body
            code = error.get("code") if isinstance(error, dict) else None
            rec["status"] = _status_for_code(code) if code in wire.NOT_RUN_CODES else FAILED
            rec["error"] = f"HTTP {status_code}: {_error_text(error)}"
        elif err is not None:
            code = err.get("code") if isinstance(err, dict) else None
            rec["status"] = _status_for_code(code)
            rec["error"] = _error_text(err)
        else:
            raise ValueError("line has neither a response nor an error")
        self._store(cid, rec)

    def _answer(self, body: dict, rec: dict[str, Any]) -> None:
        usage = body.get("usage") or {}
        rec["prompt_tokens"] = usage.get("prompt_tokens")
        rec["completion_tokens"] = usage.get("completion_tokens")
        if "choices" in body:
            choice = (body.get("choices") or [{}])[0]
            rec["finish_reason"] = choice.get("finish_reason")
            message = choice.get("message")
            if isinstance(message, dict):
                rec["content"] = message.get("content")
                calls = message.get("tool_calls")
                if calls:
                    fn = calls[0].get("function") or {}
                    rec["tool_name"] = fn.get("name")
                    rec["tool_arguments"] = _parse_arguments(fn.get("arguments"))
                    self.has_tool_calls = True
            else:
                rec["content"] = choice.get("text")
        elif "data" in body:
            data = body.get("data") or [{}]
            rec["embedding"] = np.asarray(data[0].get("embedding"), dtype=np.float32)
            self.has_embeddings = True

    def _store(self, cid: str, rec: dict[str, Any]) -> None:
        cols = self.cols
        at = self.pos.get(cid)
        if at is None:
            self.pos[cid] = len(cols["status"])
            for name, values in cols.items():
                values.append(rec.get(name))
            return
        if cols["status"][at] == OK and rec["status"] != OK:
            return  # an answer is never replaced by a later failure of the same request
        for name, values in cols.items():
            values[at] = rec.get(name)


def _parse_arguments(arguments: object) -> object:
    if isinstance(arguments, str):
        try:
            return orjson.loads(arguments)
        except orjson.JSONDecodeError:
            return arguments
    return arguments


def _pieces(items: Iterable[Any], kind: str) -> Iterable[tuple[bytes, str | None, str]]:
    for number, item in enumerate(items or ()):
        if isinstance(item, tuple):
            batch_id, data = item
        else:
            batch_id, data = None, item
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


# --- structured answers -------------------------------------------------------------------

_JSON_KINDS = {"string": "str", "integer": "Int64", "number": "Float64", "boolean": "boolean"}


def _resolve(node: dict, schema: dict) -> dict:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = schema
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return _resolve(target, schema) if isinstance(target, dict) else {}
    return node


class _Field:
    """How one schema property becomes a typed column, and how a value is checked."""

    def __init__(self, name: str, node: dict, schema: dict) -> None:
        self.name = name
        node = _resolve(node, schema)
        self.nullable = False
        options = node.get("anyOf") or node.get("oneOf")
        if isinstance(options, list):
            options = [_resolve(o, schema) for o in options]
            non_null = [o for o in options if o.get("type") != "null"]
            self.nullable = len(non_null) < len(options)
            if len(non_null) == 1:
                node = non_null[0]
        types = node.get("type")
        if isinstance(types, list):
            self.nullable = self.nullable or "null" in types
            rest = [t for t in types if t != "null"]
            types = rest[0] if len(rest) == 1 else None
        self.type = types if isinstance(types, str) else None
        enum = node.get("enum")
        self.enum = list(enum) if isinstance(enum, list) else None
        if "const" in node:
            self.enum = [node["const"]]
        if self.enum is not None and None in self.enum:
            self.nullable = True
            self.enum = [e for e in self.enum if e is not None]

    def check(self, value: Any) -> str | None:
        """``None`` if ``value`` fits, else a short reason."""
        if value is None:
            return None if self.nullable else "is null"
        if self.enum is not None:
            return None if value in self.enum else f"{value!r} is not one of {self.enum}"
        t = self.type
        ok = (
            t is None
            or (t == "string" and isinstance(value, str))
            or (t == "integer" and isinstance(value, int) and not isinstance(value, bool))
            or (t == "integer" and isinstance(value, float) and value.is_integer())
            or (t == "number" and isinstance(value, (int, float)) and not isinstance(value, bool))
            or (t == "boolean" and isinstance(value, bool))
            or (t == "array" and isinstance(value, list))
            or (t == "object" and isinstance(value, dict))
        )
        return None if ok else f"expected {t}, got {type(value).__name__}"

    def column(self, values: list[Any], index: pd.Index) -> pd.Series:
        if self.enum is not None and all(isinstance(e, str) for e in self.enum):
            return pd.Series(pd.Categorical(values, categories=self.enum), index=index)
        dtype = _JSON_KINDS.get(self.type or "", "object")
        try:
            return pd.Series(values, index=index, dtype=dtype)
        except (TypeError, ValueError):
            return pd.Series(values, index=index, dtype=object)


def schema_fields(schema: dict) -> list[_Field]:
    """The typed fields of a top-level object schema."""
    root = _resolve(schema, schema)
    props = root.get("properties") or {}
    return [_Field(name, node if isinstance(node, dict) else {}, schema)
            for name, node in props.items()]


def _parse_answers(
    contents: list[Any], ok: np.ndarray, fields: list[_Field], required: set[str]
) -> tuple[dict[str, list[Any]], list[str | None]]:
    values: dict[str, list[Any]] = {f.name: [None] * len(contents) for f in fields}
    errors: list[str | None] = [None] * len(contents)
    for i in np.flatnonzero(ok).tolist():
        text = contents[i]
        try:
            obj = orjson.loads(text) if isinstance(text, (str, bytes)) else text
        except orjson.JSONDecodeError as exc:
            errors[i] = f"answer is not valid JSON ({exc}): {str(text)[:200]!r}"
            continue
        if not isinstance(obj, dict):
            errors[i] = f"answer is not a JSON object: {str(text)[:200]!r}"
            continue
        problems = []
        for f in fields:
            if f.name not in obj:
                if f.name in required:
                    problems.append(f"{f.name!r} is missing")
                continue
            value = obj[f.name]
            reason = f.check(value)
            if reason is None:
                values[f.name][i] = value
            else:
                problems.append(f"{f.name!r} {reason}")
        if problems:
            errors[i] = "; ".join(problems)
    return values, errors


# --- the join -----------------------------------------------------------------------------


def _aligned_ids(df: pd.DataFrame, built_or_ids: Any) -> tuple[list[str | None], str | None,
                                                              dict | None]:
    row_ids = getattr(built_or_ids, "row_ids", None)
    if row_ids is not None:
        if len(row_ids) != len(df):
            raise ValueError(
                f"The build had {len(row_ids):,} rows but the DataFrame has {len(df):,}. "
                "Fix: join onto the same DataFrame the requests were built from."
            )
        return list(row_ids), built_or_ids.endpoint, built_or_ids.schema
    ids = list(built_or_ids)
    if len(ids) != len(df):
        raise ValueError(
            f"{len(ids):,} custom_ids for {len(df):,} rows. Fix: pass one id per DataFrame row "
            "(None for rows that were not sent), e.g. make_custom_ids(df.index)."
        )
    return ids, None, None


def join_results(
    df: pd.DataFrame,
    built_or_ids: Any,
    outputs: Iterable[bytes | tuple[str, bytes]] = (),
    errors: Iterable[bytes | tuple[str, bytes]] = (),
    *,
    schema: dict | None = None,
    endpoint: str | None = None,
    results: ResultTable | None = None,
) -> pd.DataFrame:
    """A copy of ``df`` (same index and order) with answer and status columns.

    ``built_or_ids`` is the ``BuiltRequests`` or one custom_id per row (``None`` = not sent).
    ``outputs`` / ``errors`` hold file contents (bytes, or ``(batch_id, bytes)``); or pass an
    already filled ``results`` table. The schema and endpoint default to the build's.

    >>> out = join_results(df, built, outputs=[output_bytes], errors=[error_bytes])
    >>> out[["sentiment", "status"]]
    """
    ids, built_endpoint, built_schema = _aligned_ids(df, built_or_ids)
    endpoint = endpoint or built_endpoint or wire.CHAT
    schema = schema if schema is not None else built_schema
    table = parse_results(outputs, errors, table=results)

    n = len(df)
    at = np.full(n, -1, dtype=np.int64)
    sent = np.ones(n, dtype=bool)
    lookup = table.pos.get
    for i, cid in enumerate(ids):
        if cid is None:
            sent[i] = False
        else:
            at[i] = lookup(cid, -1)
    found = at >= 0
    cols = table.cols

    def take(name: str) -> list[Any]:
        src = cols[name]
        out: list[Any] = [None] * n
        for i in np.flatnonzero(found).tolist():
            out[i] = src[at[i]]
        return out

    status = np.where(sent, NOT_RUN, SKIPPED).astype(object)
    status[found] = np.asarray(cols["status"], dtype=object)[at[found]] if found.any() else []
    ok = status == OK

    result = df.copy()
    index = df.index
    answers: dict[str, pd.Series] = {}
    if endpoint == wire.EMBEDDINGS or table.has_embeddings:
        answers["embedding"] = pd.Series(take("embedding"), index=index, dtype=object)
    if endpoint != wire.EMBEDDINGS:
        contents = take("content")
        if schema is not None:
            fields = schema_fields(schema)
            root = _resolve(schema, schema)
            required = set(root.get("required") or [f.name for f in fields])
            values, parse_errors = _parse_answers(contents, ok, fields, required)
            for f in fields:
                name = f"answer_{f.name}" if f.name in (*META_COLUMNS, "parse_error") else f.name
                answers[name] = f.column(values[f.name], index)
            answers["parse_error"] = pd.Series(parse_errors, index=index, dtype="str")
        else:
            answers["content"] = pd.Series(contents, index=index, dtype="str")
        if table.has_tool_calls:
            answers["tool_name"] = pd.Series(take("tool_name"), index=index, dtype="str")
            answers["tool_arguments"] = pd.Series(take("tool_arguments"), index=index,
                                                  dtype=object)
    meta = {
        "status": pd.Series(status, index=index, dtype="str"),
        "error": pd.Series(take("error"), index=index, dtype="str"),
        "finish_reason": pd.Series(take("finish_reason"), index=index, dtype="str"),
        "prompt_tokens": pd.Series(take("prompt_tokens"), index=index, dtype="Int64"),
        "completion_tokens": pd.Series(take("completion_tokens"), index=index, dtype="Int64"),
        "batch_id": pd.Series(take("batch_id"), index=index, dtype="str"),
    }
    for name, series in {**answers, **meta}.items():
        result[name] = series

    matched = int(found.sum())
    unmatched = len(table) - len({ids[i] for i in np.flatnonzero(found).tolist()})
    result.attrs["dw_malformed_lines"] = list(table.malformed)
    result.attrs["dw_malformed_count"] = table.malformed_count
    result.attrs["dw_unmatched_ids"] = unmatched
    if table.malformed_count:
        first = table.malformed[0]
        warnings.warn(
            f"{table.malformed_count} malformed result line(s) ignored (first: {first['source']} "
            f"line {first['line']}: {first['reason']}); see out.attrs['dw_malformed_lines'].",
            stacklevel=2,
        )
    if unmatched and matched == 0 and len(table):
        warnings.warn(
            f"None of the {len(table):,} results matched a row of this DataFrame. Join onto the "
            "DataFrame the requests were built from (same index, same order).",
            stacklevel=2,
        )
    return result
