"""Structured answers: each answer's JSON checked against the schema, one column per field.

Blocks of answers are read by Arrow's JSON reader with one typed column per field, and enum and
null rules are checked column-wise; a block the reader refuses (line breaks, wrong types, NaN)
is checked answer by answer in Python, which is also the reference for what is valid.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from dw_notebook.jsonl.results._body import INT64_MAX, INT64_MIN

PANDAS_3 = int(pd.__version__.split(".")[0]) >= 3
_ARROW_KIND = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
}
_PANDAS_KIND = {
    "string": "str" if PANDAS_3 else "string",
    "integer": "Int64",
    "number": "Float64",
    "boolean": "boolean",
}
_ANSWER_BLOCK = 50_000


def resolve_ref(node: dict, schema: dict) -> dict:
    """``node`` with a local ``$ref`` (``#/$defs/...``) followed."""
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = schema
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return resolve_ref(target, schema) if isinstance(target, dict) else {}
    return node


class _Field:
    """How one schema property becomes a typed column, and how a value is checked."""

    def __init__(self, name: str, node: dict, schema: dict) -> None:
        self.name = name
        node = resolve_ref(node, schema)
        self.nullable = False
        options = node.get("anyOf") or node.get("oneOf")
        if isinstance(options, list):
            options = [resolve_ref(o, schema) for o in options if isinstance(o, dict)]
            non_null = [o for o in options if o.get("type") != "null"]
            self.nullable = len(non_null) < len(options)
            node = non_null[0] if len(non_null) == 1 else {}
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
        self.categorical = self.enum is not None and all(isinstance(e, str) for e in self.enum)

    @property
    def arrow_type(self) -> pa.DataType | None:
        """Arrow type for the column-wise parser; ``None`` when values need Python objects."""
        if self.enum is not None:
            return pa.string() if self.categorical else None
        return _ARROW_KIND.get(self.type or "")

    def check(self, value: Any) -> str | None:
        """``None`` if ``value`` fits, else a short reason."""
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
        if ok and t == "integer" and not INT64_MIN <= value <= INT64_MAX:
            return f"{value!r} is out of the 64-bit integer range"
        return None if ok else f"expected {t}, got {type(value).__name__}"

    def normalise(self, value: Any) -> Any:
        if self.type == "integer" and isinstance(value, float):
            return int(value)
        if self.type == "number" and isinstance(value, int):
            return float(value)
        return value

    def column(self, values: pa.Array | list[Any], index: pd.Index) -> pd.Series:
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if self.categorical:
            if isinstance(values, pa.Array):
                codes = pc.index_in(values, value_set=pa.array(self.enum, values.type))
                codes = codes.fill_null(-1).to_numpy(zero_copy_only=False)
                cat = pd.Categorical.from_codes(codes, categories=self.enum)
            else:
                cat = pd.Categorical(values, categories=self.enum)
            return pd.Series(cat, index=index)
        dtype = _PANDAS_KIND.get(self.type or "") if self.enum is None else None
        if isinstance(values, pa.Array) and dtype == "Int64":
            # pd.array goes through float64 where there are nulls: large integers would round
            return pd.Series(pd.Int64Dtype().__from_arrow__(values), index=index)
        if isinstance(values, pa.Array) and dtype is not None:
            return pd.Series(pd.array(values, dtype=dtype), index=index)
        plain = values.to_pylist() if isinstance(values, pa.Array) else values
        try:
            return pd.Series(plain, index=index, dtype=dtype or object)
        except (TypeError, ValueError, OverflowError):  # e.g. an integer pandas cannot hold
            return pd.Series(plain, index=index, dtype=object)


def schema_fields(schema: dict) -> list[_Field]:
    """The typed fields of a top-level object schema."""
    root = resolve_ref(schema, schema)
    props = root.get("properties") or {}
    return [
        _Field(name, node if isinstance(node, dict) else {}, schema) for name, node in props.items()
    ]


def _check_answer(
    text: Any, fields: list[_Field], required: set[str]
) -> tuple[dict[str, Any], str | None]:
    """Values of one answer and its parse error (per-row reference semantics)."""
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return {}, f"answer is not valid JSON ({exc}): {str(text)[:200]!r}"
    if not isinstance(obj, dict):
        return {}, f"answer is not a JSON object: {str(text)[:200]!r}"
    values: dict[str, Any] = {}
    problems = []
    for f in fields:
        value = obj.get(f.name)
        if value is None:
            if f.name in required and not f.nullable:
                problems.append(f"{f.name!r} is missing or null")
            continue
        reason = f.check(value)
        if reason is None:
            values[f.name] = f.normalise(value)
        else:
            problems.append(f"{f.name!r} {reason}")
    return values, "; ".join(problems) or None


def _answers_by_row(
    texts: list[Any], fields: list[_Field], required: set[str]
) -> tuple[dict[str, list[Any]], dict[int, str]]:
    values: dict[str, list[Any]] = {f.name: [None] * len(texts) for f in fields}
    errors: dict[int, str] = {}
    for i, text in enumerate(texts):
        row, error = _check_answer(text, fields, required)
        if error is not None:
            errors[i] = error
        for name, value in row.items():
            values[name][i] = value
    return values, errors


def _has_line_breaks(texts: pa.Array) -> bool:
    """Whether any value holds a line break (one scan of the bytes, no per-value work)."""
    _, offset_buf, data = texts.buffers()
    if offset_buf is None:
        return False
    offsets = np.frombuffer(
        offset_buf, dtype=np.int64, count=len(texts) + 1, offset=texts.offset * 8
    )
    if data is None or offsets[-1] == offsets[0]:
        return False
    raw = np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]]
    return bool((raw == 0x0A).any() or (raw == 0x0D).any())


def _answers_by_column(
    texts: pa.Array, fields: list[_Field], required: set[str]
) -> tuple[dict[str, pa.Array], dict[int, str]] | None:
    """Arrow's reader over one block of answers; ``None`` when it needs the per-row path."""
    blank = pc.or_(pc.equal(pc.binary_length(texts), 0), pc.utf8_is_space(texts))
    if _has_line_breaks(texts) or pc.any(blank).as_py():
        return None  # a line-based reader would not see these rows as one line each
    schema = pa.schema([(f.name, f.arrow_type) for f in fields])
    lines = pc.binary_join_element_wise(
        texts, pa.scalar("\n", texts.type), pa.scalar("", texts.type)
    )
    try:
        table = pa_json.read_json(
            pa.BufferReader(lines.buffers()[2]),
            parse_options=pa_json.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="ignore"
            ),
        ).combine_chunks()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != len(texts):
        return None
    values: dict[str, pa.Array] = {}
    problems: dict[int, list[str]] = {}
    for f in fields:
        col = table.column(f.name).combine_chunks()
        if f.type == "number" and pc.any(pc.is_nan(col)).as_py():
            return None  # NaN is not JSON; let the strict parser say so
        if f.name in required and not f.nullable:
            for i in np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False)).tolist():
                problems.setdefault(i, []).append(f"{f.name!r} is missing or null")
        if f.enum is not None:
            bad = pc.and_(col.is_valid(), pc.invert(pc.is_in(col, pa.array(f.enum))))
            bad_rows = np.flatnonzero(bad.to_numpy(zero_copy_only=False))
            for i, v in zip(
                bad_rows.tolist(), col.take(pa.array(bad_rows)).to_pylist(), strict=True
            ):
                problems.setdefault(i, []).append(f"{f.name!r} {v!r} is not one of {f.enum}")
            if bad_rows.size:
                col = pc.if_else(bad, pa.nulls(len(col), col.type), col)
        values[f.name] = col
    return values, {i: "; ".join(found) for i, found in sorted(problems.items())}


def parse_answers(
    contents: pa.Array, fields: list[_Field], required: set[str]
) -> tuple[dict[str, Any], dict[int, str]]:
    """Per answer row: field values (Arrow arrays when possible); and the parse errors, by
    answer row (answers that fit the schema have none)."""
    if not all(f.arrow_type is not None for f in fields):
        return _answers_by_row(contents.to_pylist(), fields, required)
    blocks_values: dict[str, list[pa.Array]] = {f.name: [] for f in fields}
    errors: dict[int, str] = {}
    for start in range(0, len(contents), _ANSWER_BLOCK):
        block = contents.slice(start, _ANSWER_BLOCK)
        done = _answers_by_column(block, fields, required) if len(block) else ({}, {})
        if done is None:
            by_row, errs = _answers_by_row(block.to_pylist(), fields, required)
            done = ({f.name: pa.array(by_row[f.name], f.arrow_type) for f in fields}, errs)
        for f in fields:
            if f.name in done[0]:
                blocks_values[f.name].append(done[0][f.name])
        errors.update((start + i, error) for i, error in done[1].items())
    values = {
        f.name: pa.concat_arrays(blocks_values[f.name])
        if blocks_values[f.name]
        else pa.array([], f.arrow_type)
        for f in fields
    }
    return values, errors
