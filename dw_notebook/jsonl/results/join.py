"""Result lines laid onto a copy of the DataFrame, joined by custom_id only.

``parse_results`` reads any number of output/error files (or pieces of them, whole lines each)
into a ``ResultTable``; ``join_results`` lays it onto the DataFrame rows, in the DataFrame's order.

Row status: ``ok`` (answered), ``failed`` (HTTP error or other failure), ``expired`` / ``cancelled``
(never ran: ``batch_expired`` / ``batch_cancelled``-like codes), ``not_run`` (in no file yet),
``skipped`` (left out at build time by ``missing="skip"``), ``unreadable`` (a line for the row
came back, its answer could not be read: ``error`` names the line and the reason) and
``unparsed`` (with a schema: answered, but the answer does not fit it; ``parse_error`` says
why, ``finish_reason`` whether it was cut off). When one
custom_id appears more than once (retries, growing files), an ``ok`` answer wins over a
failure, otherwise the latest line.

Parsing lines is ``_lines`` and checking structured answers is ``_answers`` (both Arrow first,
per line where Arrow refuses); this module picks the winning line per row and lays the columns
onto the DataFrame.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dw_notebook import wire
from dw_notebook.jsonl.results._answers import PANDAS_3, parse_answers, resolve_ref, schema_fields
from dw_notebook.jsonl.results._lines import (
    NOT_RUN,
    OK,
    SKIPPED,
    STATUSES,
    UNPARSED,
)
from dw_notebook.jsonl.results._table import ResultTable, parse_results

META_COLUMNS = (
    "status",
    "error",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "batch_id",
)
_CODE = {name: i for i, name in enumerate(STATUSES)}


def _aligned_ids(
    df: pd.DataFrame, built_or_ids: Any
) -> tuple[list[str | None], str | None, dict | None]:
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
    sent = [i for i in ids if i is not None]
    if len(set(sent)) != len(sent):  # a build's ids are unique by construction
        seen: set[str] = set()
        dup = [i for i in sent if i in seen or seen.add(i)]
        raise ValueError(f"custom_ids must be unique; repeated: {sorted(set(dup))[:5]}")
    return ids, None, None


def _lookup(values: pa.Array, ids: pa.Array) -> np.ndarray:
    """The position in ``ids`` (unique) of every value, -1 where none.

    Hashing is sized by the smaller side: few values are hashed themselves and every id looked
    up among them, instead of hashing all ids to look up a few values.
    """
    if len(values) * 4 >= len(ids):
        found = pc.index_in(values, value_set=ids).to_numpy(zero_copy_only=False)
        return np.nan_to_num(found, nan=-1).astype(np.int64)
    distinct = pc.unique(values)
    which = pc.index_in(ids, value_set=distinct).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(~np.isnan(which))
    at = np.full(len(distinct), -1, dtype=np.int64)
    at[which[rows][::-1].astype(np.int64)] = rows[::-1]  # the first of equal ids, as index_in
    return at[pc.index_in(values, value_set=distinct).to_numpy(zero_copy_only=False)]


def _positions(result_ids: pa.ChunkedArray, ids: pa.Array) -> np.ndarray:
    """The DataFrame row of every result line, -1 where none.

    Result files mostly hold their lines in the order the rows were sent: a chunk of result ids
    that is the run of ``ids`` starting at its first id is placed as that run, without hashing
    a million ids; only the other chunks are looked up.
    """
    chunks = [c for c in result_ids.chunks if len(c)]
    firsts = pa.array([c[0].as_py() for c in chunks], ids.type)
    starts = _lookup(firsts, ids).tolist()
    found = np.empty(sum(map(len, chunks)), dtype=np.int64)
    rest: list[tuple[int, pa.Array]] = []  # (first line, chunk) of chunks not in order
    line = 0
    for chunk, start in zip(chunks, starts, strict=True):
        size = len(chunk)
        if start >= 0 and start + size <= len(ids) and ids.slice(start, size).equals(chunk):
            found[line : line + size] = np.arange(start, start + size)
        else:
            rest.append((line, chunk))
        line += size
    if rest:
        hits = _lookup(pa.concat_arrays([c for _, c in rest]), ids)
        done = 0
        for line, chunk in rest:
            found[line : line + len(chunk)] = hits[done : done + len(chunk)]
            done += len(chunk)
    return found


def _winners(
    result_ids: pa.ChunkedArray, ok: np.ndarray, ids: pa.Array
) -> tuple[np.ndarray, np.ndarray, int]:
    """(result rows that win, the DataFrame positions they fill, results matching no row)."""
    found = _positions(result_ids, ids)
    unmatched = int((found < 0).sum())  # lines of other DataFrames or batches
    rows = np.flatnonzero(found >= 0)
    target = found[rows]
    # per DataFrame row: an ok line beats a failure, then the latest line wins
    order = np.lexsort((rows, ok[rows], target))
    rows, target = rows[order], target[order]
    last = np.ones(len(target), dtype=bool)
    last[:-1] = target[1:] != target[:-1]
    return rows[last], target[last], unmatched


def _text_series(values: pa.Array | np.ndarray | list, index: pd.Index) -> pd.Series:
    """A text column: pandas' Arrow-backed ``str`` dtype (pandas 3), else object."""
    if PANDAS_3:
        return pd.Series(pd.array(values, dtype="str"), index=index)
    arrow = isinstance(values, pa.Array | pa.ChunkedArray)
    plain = values.to_pylist() if arrow else list(values)
    return pd.Series(plain, index=index, dtype=object)


def _int_series(values: pa.Array, index: pd.Index) -> pd.Series:
    """Arrow int64 with nulls -> a pandas ``Int64`` column, without a per-value loop."""
    data = values.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    mask = values.is_null().to_numpy(zero_copy_only=False)
    return pd.Series(pd.arrays.IntegerArray(data, mask), index=index)


def _spread(values: pa.Array, src: np.ndarray) -> pa.Array:
    """``values[src]`` with nulls where ``src < 0`` (``values`` itself when ``src`` takes every
    value in order, as when each file holds its rows in the order they were sent)."""
    if _in_order(src, len(values)):
        return values
    return _combined(values).take(pa.array(src, mask=src < 0))


def _in_order(positions: np.ndarray, size: int) -> bool:
    """Whether ``positions`` is 0, 1, ..., size - 1."""
    if len(positions) != size or not size:
        return len(positions) == size
    return positions[0] == 0 and bool((np.diff(positions) == 1).all())


def _combined(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One chunk: Arrow's take of strings from many chunks is far slower than a copy into one
    chunk and a take from that (a quarter of a second for a million answers)."""
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _parsed_answers(
    parsed: ResultTable, content: pa.ChunkedArray, rows: np.ndarray, schema: dict
) -> tuple[dict[str, Any], dict[int, str]]:
    """The answers of these result rows checked against the schema; kept on ``parsed`` when
    every value is an Arrow array (immutable), so a second join of the same rows (a kept
    table) does not parse them again."""
    fields = schema_fields(schema)
    root = resolve_ref(schema, schema)
    required = set(root.get("required") or [f.name for f in fields])
    kept = parsed.answers
    if kept is not None and kept[0] == schema and np.array_equal(kept[1], rows):
        return kept[2], kept[3]
    texts = _combined(content)
    texts = texts if _in_order(rows, len(texts)) else texts.take(pa.array(rows, pa.int64()))
    values, errors = parse_answers(texts, fields, required)
    if all(isinstance(v, pa.Array) for v in values.values()):
        parsed.answers = (copy.deepcopy(schema), rows, values, errors)
    return values, errors


def _answer_columns(
    parsed: ResultTable,
    content: pa.ChunkedArray,
    won: np.ndarray,
    at: np.ndarray,
    codes_all: np.ndarray,
    schema: dict,
    index: pd.Index,
) -> dict[str, pd.Series]:
    """One typed column per schema field, plus ``parse_error``, for the winning result rows."""
    fields = schema_fields(schema)
    answered = codes_all[won] == _CODE[OK]
    has_text = content.is_valid().to_numpy(zero_copy_only=False)[won]
    parse = np.flatnonzero(answered & has_text)
    values, parse_errors = _parsed_answers(parsed, content, won[parse], schema)
    n = len(index)
    back = np.full(n, -1, dtype=np.int64)  # parsed answer feeding each DataFrame row
    back[at[parse]] = np.arange(len(parse))
    out: dict[str, pd.Series] = {}
    for f in fields:
        name = f"answer_{f.name}" if f.name in (*META_COLUMNS, "parse_error") else f.name
        vals = values[f.name]
        spread = (
            _spread(vals, back)
            if isinstance(vals, pa.Array)
            else [vals[j] if j >= 0 else None for j in back.tolist()]
        )
        out[name] = f.column(spread, index)
    no_text = at[np.flatnonzero(answered & ~has_text)]
    if not parse_errors and not len(no_text):
        out["parse_error"] = _text_series(pa.nulls(n, pa.large_string()), index)
        return out
    errors = np.full(n, None, dtype=object)
    if parse_errors:
        rows = np.fromiter(parse_errors, dtype=np.int64, count=len(parse_errors))
        errors[at[parse[rows]]] = np.asarray(list(parse_errors.values()), dtype=object)
    errors[no_text] = "no answer text in the response"
    out["parse_error"] = _text_series(errors, index)
    return out


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
    Columns: the answer (``content``; or one per schema field plus ``parse_error``; tool calls
    add ``tool_name`` / ``tool_arguments``; embeddings ``embedding``), then ``status``,
    ``error``, ``finish_reason``, ``prompt_tokens``, ``completion_tokens``, ``batch_id``.
    A schema field named like one of those columns becomes ``answer_<name>``.

    >>> out = join_results(df, built, outputs=[output_bytes], errors=[error_bytes])
    >>> out[["sentiment", "status"]]
    """
    ids, built_endpoint, built_schema = _aligned_ids(df, built_or_ids)
    endpoint = endpoint or built_endpoint or wire.CHAT
    schema = schema if schema is not None else built_schema
    parsed = parse_results(outputs, errors, table=results)
    table = parsed.table()

    n = len(df)
    id_array = pa.array(ids, pa.large_string())
    codes_all = table.column("status").to_numpy().astype(np.int8, copy=False)
    won, at, unmatched = _winners(table.column("custom_id"), codes_all == _CODE[OK], id_array)
    src = np.full(n, -1, dtype=np.int64)  # result row feeding each DataFrame row
    src[at] = won
    codes = np.where(
        id_array.is_null().to_numpy(zero_copy_only=False), _CODE[SKIPPED], _CODE[NOT_RUN]
    ).astype(np.int8)
    codes[at] = codes_all[won]

    def column(name: str) -> pa.Array:
        return _spread(table.column(name), src)

    index = df.index
    answers: dict[str, pd.Series] = {}
    has_embeddings = table.column("embedding").null_count < table.num_rows
    has_tools = table.column("tool_name").null_count < table.num_rows
    if endpoint == wire.EMBEDDINGS or has_embeddings:
        vectors = column("embedding").to_numpy(zero_copy_only=False)
        answers["embedding"] = pd.Series(vectors, index=index, dtype=object)
    if endpoint != wire.EMBEDDINGS and schema is not None:
        content = table.column("content")
        answers.update(_answer_columns(parsed, content, won, at, codes_all, schema, index))
        # answered, but the answer is not usable: not ``ok``
        codes[answers["parse_error"].notna().to_numpy(dtype=bool)] = _CODE[UNPARSED]
    elif endpoint != wire.EMBEDDINGS:
        answers["content"] = _text_series(column("content"), index)
    if endpoint == wire.MODERATIONS:
        answers.update(_moderation_columns(column("content").to_pylist(), index))
    if has_tools:
        answers["tool_name"] = _text_series(column("tool_name"), index)
        raw_args = column("tool_arguments").to_pylist()
        answers["tool_arguments"] = pd.Series(
            [_parse_arguments(a) for a in raw_args], index=index, dtype=object
        )
    meta = {
        "status": pd.Series(pd.Categorical.from_codes(codes, categories=STATUSES), index=index),
        "error": _text_series(column("error"), index),
        "finish_reason": _text_series(column("finish_reason"), index),
        "prompt_tokens": _int_series(column("prompt_tokens"), index),
        "completion_tokens": _int_series(column("completion_tokens"), index),
        "batch_id": _text_series(column("batch_id"), index),
    }
    result = df.copy(deep=not _copy_on_write())
    for name, series in {**answers, **meta}.items():
        result[name] = series
    result.attrs.update(line_report(parsed, unmatched))
    for text in report_warnings(parsed):
        warnings.warn(text, stacklevel=2)
    if unmatched and not len(won):
        warnings.warn(
            f"None of the {table.num_rows:,} result lines matched a row of this DataFrame. Join "
            "onto the DataFrame the requests were built from (same index, same order).",
            stacklevel=2,
        )
    return result


def output_columns(
    endpoint: str, schema: dict | None, *, tools: bool = False, extra: Iterable[str] = ()
) -> list[str]:
    """The columns a join adds for this endpoint and schema (``extra``: the job's own, such
    as ``attempt``), in order."""
    columns: list[str] = []
    if endpoint == wire.EMBEDDINGS:
        columns.append("embedding")
    elif schema is not None:
        columns += [
            f"answer_{f.name}" if f.name in (*META_COLUMNS, "parse_error") else f.name
            for f in schema_fields(schema)
        ]
        columns.append("parse_error")
    else:
        columns.append("content")
    if endpoint == wire.MODERATIONS:
        columns += ["flagged", "categories"]
    if tools:
        columns += ["tool_name", "tool_arguments"]
    return [*columns, *META_COLUMNS, *extra]


def refuse_clash(
    user_columns: Iterable[Any], ours: list[str], prefix: str = "", option: str = "output_prefix"
) -> None:
    """Raise before anything is sent when a column the join adds would overwrite one of the
    user's, naming the columns and the option that renames ours."""
    mine = {str(c) for c in user_columns}
    clash = [c for c in ours if prefix + c in mine]
    if clash:
        names = ", ".join(repr(prefix + c) for c in clash)
        raise ValueError(
            f"the DataFrame already has column{'s' if len(clash) > 1 else ''} {names}, which "
            f"the joined results would overwrite; nothing was sent. Pass {option}='dw_' (or "
            "another prefix) to name the result columns dw_status, dw_content, ..., or "
            "rename yours"
        )


def line_report(parsed: ResultTable, unmatched: int = 0) -> dict[str, Any]:
    """What the join puts in ``out.attrs``: every line it could not read plainly, and counts."""
    return {
        "dw_malformed_lines": list(parsed.malformed),
        "dw_malformed_count": parsed.malformed_count,
        "dw_salvaged_lines": list(parsed.salvaged),
        "dw_salvaged_count": parsed.salvaged_count,
        "dw_unreadable_lines": list(parsed.unreadable),
        "dw_unreadable_count": parsed.unreadable_count,
        "dw_unmatched_ids": unmatched,
    }


def _first(entries: list[dict[str, Any]]) -> str:
    first = entries[0]
    where = f"line {first['line']}"
    where = f"{first['source']} {where}" if first["source"] else where
    return f"{where}: {first['reason']}"


def report_warnings(parsed: ResultTable) -> list[str]:
    """One warning per kind of line the join could not read plainly (none when all were)."""
    texts = []
    if parsed.unreadable_count:
        texts.append(
            f"{parsed.unreadable_count} answer(s) came back but could not be read: those rows "
            f"have status 'unreadable' and the line and reason in 'error' (first: "
            f"{_first(parsed.unreadable)}). They were paid for; job.retry(unreadable=True) asks "
            "again. See out.attrs['dw_unreadable_lines']."
        )
    if parsed.salvaged_count:
        texts.append(
            f"{parsed.salvaged_count} result line(s) were not valid JSON and were read field by "
            f"field (first: {_first(parsed.salvaged)}); see out.attrs['dw_salvaged_lines']."
        )
    if parsed.malformed_count:
        texts.append(
            f"{parsed.malformed_count} malformed result line(s) ignored: they name no custom_id "
            f"(first: {_first(parsed.malformed)}); see out.attrs['dw_malformed_lines']."
        )
    return texts


def _moderation_columns(contents: list[str | None], index: pd.Index) -> dict[str, pd.Series]:
    """``flagged`` (boolean) and ``categories`` (the names flagged) from moderation verdicts."""
    flagged: list[bool | None] = []
    categories: list[list[str] | None] = []
    for text in contents:
        try:
            verdict = orjson.loads(text) if text is not None else None
        except orjson.JSONDecodeError:
            verdict = None
        if not isinstance(verdict, dict):
            flagged.append(None)
            categories.append(None)
            continue
        flags = verdict.get("categories")
        flagged.append(bool(verdict.get("flagged")))
        names = [k for k, v in flags.items() if v is True] if isinstance(flags, dict) else []
        categories.append(names)
    return {
        "flagged": pd.Series(pd.array(flagged, dtype="boolean"), index=index),
        "categories": pd.Series(categories, index=index, dtype=object),
    }


def _copy_on_write() -> bool:
    """pandas 3 (or 2.x opted in): a shallow copy is safe, and saves copying every column."""
    return PANDAS_3 or bool(pd.options.mode.copy_on_write is True)


def _parse_arguments(arguments: object) -> object:
    """Tool-call arguments as parsed JSON, or the raw text when it is not valid JSON."""
    if isinstance(arguments, str):
        try:
            return orjson.loads(arguments)
        except orjson.JSONDecodeError:
            return arguments
    return arguments
