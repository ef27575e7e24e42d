"""``build_requests``: a DataFrame becomes request lines, validated before anything is sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dw_notebook import wire
from dw_notebook.jsonl.requests._assemble import Part, assemble_lines
from dw_notebook.jsonl.requests._built import BuiltRequests, fingerprint_digest
from dw_notebook.jsonl.requests._encode import SLOT_ID, SLOT_VALUE, encode_values, split_skeleton
from dw_notebook.jsonl.requests._ids import is_valid_custom_id, label_text, make_custom_ids
from dw_notebook.jsonl.requests._ids import other_ids as find_other_ids
from dw_notebook.jsonl.requests._params import warn_unknown
from dw_notebook.jsonl.requests._schema import response_format_for
from dw_notebook.jsonl.requests._template import Template, parse_template
from dw_notebook.jsonl.requests._values import column_array, fix_surrogates, missing_mask
from dw_notebook.jsonl.requests.errors import (
    BuildError,
    CustomIdError,
    EmptyPromptError,
    InvalidTextError,
    LineTooLargeError,
    MissingColumnsError,
    MissingValuesError,
)

ENDPOINTS = {
    "chat": wire.CHAT,
    "embeddings": wire.EMBEDDINGS,
    "completions": wire.COMPLETIONS,
    "responses": wire.RESPONSES,
    "moderations": wire.MODERATIONS,
}
_MISSING = ("error", "skip", "empty")
_RESERVED = {"model", "messages", "input", "prompt", "response_format", "tools"}


def _endpoint_url(endpoint: str) -> str:
    if endpoint in ENDPOINTS:
        return ENDPOINTS[endpoint]
    if endpoint in ENDPOINTS.values():
        return endpoint
    raise BuildError(
        f"Unknown endpoint {endpoint!r}. Fix: use one of {', '.join(map(repr, ENDPOINTS))}."
    )


def _resolve_column(df: pd.DataFrame, name: str) -> Any:
    """The DataFrame column a placeholder names ("{0}" may name an integer column)."""
    if name in df.columns:
        return name
    if name.lstrip("-").isdigit() and int(name) in df.columns:
        return int(name)
    return None


def _check_args(
    df: Any, model: Any, missing: str, url: str, params: dict[str, Any], chat_only: bool
) -> None:
    if isinstance(df, pd.Series):
        name = df.name if df.name is not None else 0
        raise TypeError(
            f"expected a pandas DataFrame, got a Series. Fix: pass series.to_frame() (its column "
            f"is then named {name!r}, so the prompt says {{{name}}})."
        )
    if not isinstance(df, pd.DataFrame):
        raise TypeError(
            f"expected a pandas DataFrame, got {type(df).__name__}. Fix: pd.DataFrame(...) first."
        )
    dup = list(dict.fromkeys(df.columns[df.columns.duplicated()].tolist()))
    if dup:
        raise BuildError(
            f"the DataFrame has more than one column named {', '.join(map(repr, dup))}; a prompt "
            "cannot tell them apart and the result columns could not be joined. Fix: rename "
            "them (df.columns = [...]) or keep the first: df = df.loc[:, ~df.columns.duplicated()]."
        )
    if not isinstance(model, str) or not model:
        raise BuildError("model must be a non-empty string, e.g. model='Qwen/Qwen3-14B-FP8'.")
    if missing not in _MISSING:
        raise BuildError(f"missing={missing!r} is not one of {', '.join(map(repr, _MISSING))}.")
    if params.get("stream"):
        raise BuildError("stream=True is not allowed in a batch. Fix: drop the stream argument.")
    clash = sorted(_RESERVED & params.keys())
    if clash:
        raise BuildError(
            f"{', '.join(clash)} cannot be passed as extra body parameters. Fix: use the "
            f"prompt=/system=/input_column=/response_format=/tools= arguments."
        )
    warn_unknown(url, params)
    if url != wire.CHAT and chat_only:
        raise BuildError(
            f"system=, examples=, response_format= and tools= apply to the chat endpoint only, "
            f"not {url}. Fix: use endpoint='chat' or drop them."
        )


def _labels(df: pd.DataFrame, positions: Any) -> list[Any]:
    return df.index[np.asarray(positions, dtype=np.int64)].tolist()


def _row_values(parts: list[Part], keep: np.ndarray | None, n_rows: int) -> Callable[[], list]:
    """A function giving, per row, the bytes of the values its request uses (for derived ids;
    computed only when some row needs one)."""
    arrays = [p for p in parts if isinstance(p, pa.Array)]

    def values() -> list[bytes]:
        if not arrays:
            kept = [b""] * (len(keep) if keep is not None else n_rows)
        else:
            sep = pa.scalar(b"\x1f", pa.large_binary())
            joined = pc.binary_join_element_wise(
                *[a.cast(pa.large_binary()) for a in arrays], sep, null_handling="replace"
            )
            kept = joined.to_pylist()
        if keep is None:
            return kept
        full = [b""] * n_rows
        for j, i in enumerate(keep.tolist()):
            full[i] = kept[j]
        return full

    return values


def _custom_ids(
    df: pd.DataFrame, id_column: str | None, values: Callable[[], list] | None = None
) -> list[str]:
    if id_column is None:
        return make_custom_ids(df.index, values)
    if id_column not in df.columns:
        raise MissingColumnsError([id_column], list(df.columns))
    texts = [label_text(v) for v in df[id_column].tolist()]
    bad = [i for i, t in enumerate(texts) if not is_valid_custom_id(t)]
    if bad:
        raise CustomIdError(_labels(df, bad), "not 1-64 printable ASCII characters")
    dup = np.flatnonzero(pd.Index(texts).duplicated(keep="first"))
    if dup.size:
        raise CustomIdError(_labels(df, dup), "the same id appears more than once")
    return texts


def _text_columns(
    df: pd.DataFrame, columns: list[Any], missing: str
) -> tuple[dict[Any, pa.Array], np.ndarray]:
    """Each used column as Arrow text, and the mask of rows missing a value in any of them."""
    masks = {col: missing_mask(df[col]) for col in dict.fromkeys(columns)}
    any_missing = np.zeros(len(df), dtype=bool)
    for mask in masks.values():
        any_missing |= mask
    if missing == "error" and any_missing.any():
        bad = [str(c) for c, m in masks.items() if m.any()]
        raise MissingValuesError(bad, _labels(df, np.flatnonzero(any_missing)))
    return {col: column_array(df[col], mask) for col, mask in masks.items()}, any_missing


def _blank_rows(arrays: list[pa.Array], n: int) -> np.ndarray:
    """Positions where every array's value is empty or only whitespace (all, if no arrays)."""
    blank = None
    for arr in arrays:
        text = arr.cast(pa.large_string())
        this = pc.or_(pc.equal(pc.binary_length(arr), 0), pc.utf8_is_space(text))
        blank = this if blank is None else pc.and_(blank, this)
    if blank is None:
        return np.arange(n, dtype=np.int64)
    return np.flatnonzero(blank.to_numpy(zero_copy_only=False))


def _template_parts(template: Template, arrays: dict[str, pa.Array]) -> list[Part]:
    return [
        fix_surrogates(value).encode() if kind == "text" else arrays[value]
        for kind, value in template.pieces
    ]


def build_requests(
    df: pd.DataFrame,
    *,
    model: str,
    prompt: str | Callable[[pd.Series], list[dict] | str] | None = None,
    system: str | None = None,
    examples: list[dict] | None = None,
    endpoint: str = "chat",
    input_column: str | None = None,
    response_format: type | dict | None = None,
    tools: list[dict] | None = None,
    missing: str = "error",
    id_column: str | None = None,
    max_line_bytes: int = wire.MAX_FILE_BYTES,
    other_ids: bool = False,
    **params: Any,
) -> BuiltRequests:
    """Build one request line per row of ``df``; raises a ``BuildError`` naming rows and a fix.

    ``prompt`` is a template (``"Review: {review}"``, ``{{`` for a literal brace) or a callable
    row -> messages (or -> str, sent as the user message; ``missing=`` does not apply to it).
    ``input_column`` sends one column as is (the user message, or the embeddings ``input``).
    Cell values that are not text follow the rule in the ``dw_notebook.jsonl.requests`` docstring.
    ``system`` / ``examples`` come before the user message; ``response_format`` (a pydantic
    model or JSON schema) becomes a strict json_schema; ``id_column`` supplies custom_ids
    instead of the index (otherwise ids follow ``make_custom_ids``: the index label, or an id
    derived from the label and the values used); ``other_ids`` also works out, per row, the
    other id it may have been sent under (``built.other_ids``, for ``attach``); any other keyword
    (temperature, max_tokens, seed...) goes into every body.

    >>> built = build_requests(df, model="Qwen/Qwen3-14B-FP8", prompt="Sentiment of: {review}",
    ...                        system="Answer in one word.", temperature=0)
    >>> built.n, built.endpoint
    (3, '/v1/chat/completions')
    """
    url = _endpoint_url(endpoint)
    _check_args(
        df, model, missing, url, params, bool(system or examples or response_format or tools)
    )
    if prompt is not None and input_column is not None:
        raise BuildError("Pass either prompt= or input_column=, not both.")
    if prompt is None and input_column is None:
        raise BuildError(
            "Nothing to send: pass prompt='... {column} ...', a callable row -> messages, "
            "or input_column='column'."
        )
    prefix_messages: list[dict] = [{"role": "system", "content": system}] if system else []
    if examples:
        if not all(isinstance(m, dict) and "role" in m for m in examples):
            raise BuildError("examples must be a list of messages like {'role': 'user', ...}.")
        prefix_messages.extend(examples)

    n_rows = len(df)
    keep: np.ndarray | None = None  # positions kept, when missing="skip" drops some
    body: dict[str, Any] = {"model": model}
    if callable(prompt):
        values = _call_prompt(df, prompt, prefix_messages)
        parts: list[Part] = [pa.array(encode_values(values, df.index.tolist()), pa.large_binary())]
        del values
        text_value = False
        body["input" if url == wire.RESPONSES else "messages"] = SLOT_VALUE
    else:
        if input_column is not None:
            col = _resolve_column(df, input_column)
            if col is None:
                raise MissingColumnsError([input_column], list(df.columns))
            template = Template(input_column, (("column", input_column),))
            resolved = {input_column: col}
        else:
            template = parse_template(prompt)  # type: ignore[arg-type]
            resolved = {c: _resolve_column(df, c) for c in template.columns}
            absent = [c for c, r in resolved.items() if r is None]
            if absent:
                raise MissingColumnsError(absent, list(df.columns))
        arrays, any_missing = _text_columns(df, list(resolved.values()), missing)
        if missing == "skip" and any_missing.any():
            keep = np.flatnonzero(~any_missing)
            arrays = {c: a.take(pa.array(keep)) for c, a in arrays.items()}
        by_name = {name: arrays[col] for name, col in resolved.items()}
        if template.literal_is_blank:
            n_kept = len(keep) if keep is not None else n_rows
            blank = _blank_rows(list(by_name.values()), n_kept)
            if blank.size:
                rows = keep[blank] if keep is not None else blank
                raise EmptyPromptError(_labels(df, rows))
        parts = _template_parts(template, by_name)
        del arrays, by_name
        text_value = True
        if url == wire.CHAT:
            body["messages"] = [*prefix_messages, {"role": "user", "content": SLOT_VALUE}]
        elif url in (wire.EMBEDDINGS, wire.RESPONSES, wire.MODERATIONS):
            body["input"] = SLOT_VALUE
        else:
            body["prompt"] = SLOT_VALUE

    body.update(params)
    schema = None
    if response_format is not None:
        body["response_format"], schema = response_format_for(response_format)
    if tools is not None:
        body["tools"] = tools

    values = _row_values(parts, keep, n_rows)
    all_ids = _custom_ids(df, id_column, values)
    alternates = find_other_ids(df.index, all_ids, values) if other_ids and not id_column else None
    del values  # holds the value arrays
    ids = all_ids if keep is None else [all_ids[i] for i in keep.tolist()]
    line = {"custom_id": SLOT_ID, "method": "POST", "url": url, "body": body}
    head, middle, tail = split_skeleton(line, text_value=text_value)
    id_array = pa.array(ids, pa.large_string()).cast(pa.large_binary())
    digest = fingerprint_digest(url)
    data, offsets = assemble_lines(
        head, id_array, middle, parts, tail, escape=text_value, digest=digest
    )
    del parts, id_array

    positions = keep if keep is not None else np.arange(n_rows, dtype=np.int64)
    sizes = np.diff(offsets) - 1
    too_big = np.flatnonzero(sizes > max_line_bytes)
    if too_big.size:
        raise LineTooLargeError(_labels(df, positions[too_big]), max_line_bytes, int(sizes.max()))

    row_ids: list[str | None] = list(all_ids)
    skipped: list[Any] = []
    if keep is not None:
        dropped = np.flatnonzero(any_missing)
        for i in dropped.tolist():
            row_ids[i] = None
        skipped = _labels(df, dropped)
    built = BuiltRequests(
        data=data,
        line_offsets=offsets,
        endpoint=url,
        model=model,
        params=dict(params),
        custom_ids=ids,
        positions=positions,
        row_ids=row_ids,
        schema=schema,
        skipped=skipped,
        n_rows=n_rows,
    )
    built.other_ids = alternates
    built.set_fingerprint(digest.hexdigest())
    return built


def _call_prompt(
    df: pd.DataFrame, prompt: Callable[[pd.Series], Any], prefix: list[dict]
) -> list[list[dict]]:
    out: list[list[dict]] = []
    bad: list[Any] = []
    columns = [df.iloc[:, i].tolist() for i in range(df.shape[1])]
    for label, values in zip(
        df.index.tolist(), zip(*columns, strict=True) if columns else [()] * len(df), strict=True
    ):
        # object dtype: any cell (even text Arrow cannot hold) reaches the callable as is
        row = pd.Series(values, index=df.columns, name=label, dtype=object)
        try:
            result = prompt(row)
        except Exception as exc:
            raise BuildError(
                f"The prompt callable failed on row {label!r}: {exc!r}. Fix the callable "
                f"for that row (try prompt(df.loc[{label!r}]))."
            ) from exc
        if isinstance(result, str):
            result = [{"role": "user", "content": result}]
        if not (
            isinstance(result, list)
            and result
            and all(isinstance(m, dict) and "role" in m for m in result)
        ):
            bad.append(label)
            continue
        out.append(prefix + result if prefix else result)
    if bad:
        raise InvalidTextError(
            bad,
            "the prompt callable must return a str or a non-empty list of messages like "
            "[{'role': 'user', 'content': '...'}]",
        )
    return out
