"""``build_requests``: a DataFrame becomes request lines, validated before anything is sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from dw_notebook import wire
from dw_notebook.build._built import BuiltRequests
from dw_notebook.build._encode import (
    SLOT_ID,
    SLOT_VALUE,
    assemble,
    encode_strings,
    encode_values,
    split_skeleton,
)
from dw_notebook.build._ids import is_valid_custom_id, label_text, make_custom_ids
from dw_notebook.build._schema import response_format_for
from dw_notebook.build._template import parse_template
from dw_notebook.build._values import column_texts, missing_mask
from dw_notebook.build.errors import (
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


def _check_params(params: dict[str, Any]) -> None:
    if params.get("stream"):
        raise BuildError("stream=True is not allowed in a batch. Fix: drop the stream argument.")
    clash = sorted(_RESERVED & params.keys())
    if clash:
        raise BuildError(
            f"{', '.join(clash)} cannot be passed as extra body parameters. Fix: use the "
            f"prompt=/system=/input_column=/response_format=/tools= arguments."
        )


def _labels(df: pd.DataFrame, positions: np.ndarray) -> list[Any]:
    return df.index[positions].tolist()


def _custom_ids(df: pd.DataFrame, id_column: str | None) -> list[str]:
    if id_column is None:
        return make_custom_ids(df.index)
    if id_column not in df.columns:
        raise MissingColumnsError([id_column], list(df.columns))
    texts = [label_text(v) for v in df[id_column].tolist()]
    bad = [i for i, t in enumerate(texts) if not is_valid_custom_id(t)]
    if bad:
        raise CustomIdError(
            _labels(df, np.asarray(bad)), "not 1-64 printable ASCII characters"
        )
    seen: dict[str, int] = {}
    dup: list[int] = []
    for i, t in enumerate(texts):
        if t in seen:
            dup.append(i)
        else:
            seen[t] = i
    if dup:
        raise CustomIdError(_labels(df, np.asarray(dup)), "the same id appears more than once")
    return texts


def _column_texts(
    df: pd.DataFrame, columns: list[Any], missing: str
) -> tuple[dict[Any, list[str]], np.ndarray]:
    """Text of each used column, and the mask of rows that have a missing value anywhere."""
    texts: dict[Any, list[str]] = {}
    any_missing = np.zeros(len(df), dtype=bool)
    for col in columns:
        mask = missing_mask(df[col])
        if mask.any() and missing == "error":
            raise MissingValuesError(str(col), _labels(df, np.flatnonzero(mask)))
        any_missing |= mask
        texts[col] = column_texts(df[col], mask)
    return texts, any_missing


def _take(values: list, keep: np.ndarray | None) -> list:
    if keep is None:
        return values
    return [values[i] for i in keep.tolist()]


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
    **params: Any,
) -> BuiltRequests:
    """Build one request line per row of ``df``; raises a ``BuildError`` naming rows and a fix.

    >>> built = build_requests(df, model="Qwen/Qwen3-14B-FP8", prompt="Sentiment of: {review}",
    ...                        system="Answer in one word.", temperature=0)
    >>> built.n, len(built.data)
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"build_requests needs a pandas DataFrame, not {type(df).__name__}")
    if not isinstance(model, str) or not model:
        raise BuildError("model must be a non-empty string, e.g. model='Qwen/Qwen3-14B-FP8'.")
    if missing not in _MISSING:
        raise BuildError(f"missing={missing!r} is not one of {', '.join(map(repr, _MISSING))}.")
    url = _endpoint_url(endpoint)
    _check_params(params)
    if url != wire.CHAT and (system or examples or response_format or tools):
        raise BuildError(
            f"system=, examples=, response_format= and tools= apply to the chat endpoint only, "
            f"not {url}. Fix: use endpoint='chat' or drop them."
        )
    if prompt is not None and input_column is not None:
        raise BuildError("Pass either prompt= or input_column=, not both.")
    if prompt is None and input_column is None:
        raise BuildError(
            "Nothing to send: pass prompt='... {column} ...', a callable row -> messages, "
            "or input_column='column'."
        )

    schema = None
    body: dict[str, Any] = {"model": model}
    prefix_messages: list[dict] = []
    if system:
        prefix_messages.append({"role": "system", "content": system})
    if examples:
        if not all(isinstance(m, dict) and "role" in m for m in examples):
            raise BuildError("examples must be a list of messages like {'role': 'user', ...}.")
        prefix_messages.extend(examples)

    n_rows = len(df)
    keep: np.ndarray | None = None  # positions kept, when some rows are skipped
    if callable(prompt):
        rows = list(range(n_rows))
        values = _call_prompt(df, prompt, prefix_messages)
        encoded = encode_values(values, df.index.tolist())
        body["messages"] = SLOT_VALUE
    else:
        if input_column is not None:
            col = _resolve_column(df, input_column)
            if col is None:
                raise MissingColumnsError([input_column], list(df.columns))
            used = [col]
            render: Callable[[dict], list[str]] = lambda texts: texts[col]  # noqa: E731
        else:
            template = parse_template(prompt)  # type: ignore[arg-type]
            resolved = [_resolve_column(df, c) for c in template.columns]
            absent = [c for c, r in zip(template.columns, resolved, strict=True) if r is None]
            if absent:
                raise MissingColumnsError(absent, list(df.columns))
            used = resolved

            def render(texts: dict) -> list[str]:
                pairs = zip(template.columns, resolved, strict=True)
                return template.render({c: texts[r] for c, r in pairs})

        texts, any_missing = _column_texts(df, used, missing)
        if missing == "skip" and any_missing.any():
            keep = np.flatnonzero(~any_missing)
            texts = {c: _take(v, keep) for c, v in texts.items()}
        rows = keep.tolist() if keep is not None else list(range(n_rows))
        if not used:
            texts = {None: [""] * len(rows)}
        rendered = render(texts)
        empty = [i for i, t in enumerate(rendered) if not t or t.isspace()]
        if empty:
            raise EmptyPromptError(_labels(df, np.asarray([rows[i] for i in empty])))
        encoded = encode_strings(rendered)
        del rendered, texts
        if url == wire.CHAT:
            body["messages"] = [*prefix_messages, {"role": "user", "content": SLOT_VALUE}]
        elif url == wire.EMBEDDINGS:
            body["input"] = SLOT_VALUE
        else:
            body["prompt"] = SLOT_VALUE

    body.update(params)
    if response_format is not None:
        body["response_format"], schema = response_format_for(response_format)
    if tools is not None:
        body["tools"] = tools

    all_ids = _custom_ids(df, id_column)
    ids = _take(all_ids, keep)
    line = {"custom_id": SLOT_ID, "method": "POST", "url": url, "body": body}
    head, middle, tail = split_skeleton(line)
    data, offsets = assemble(head, encode_strings(ids), middle, encoded, tail)
    del encoded

    sizes = np.diff(offsets)
    too_big = np.flatnonzero(sizes > max_line_bytes)
    if too_big.size:
        raise LineTooLargeError(
            _labels(df, np.asarray(rows)[too_big]), max_line_bytes, int(sizes.max())
        )

    positions = np.asarray(rows, dtype=np.int64)
    row_ids: list[str | None] = list(all_ids)
    skipped: list[Any] = []
    if keep is not None:
        dropped = np.setdiff1d(np.arange(n_rows), keep)
        for i in dropped.tolist():
            row_ids[i] = None
        skipped = _labels(df, dropped)
    return BuiltRequests(
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


def _call_prompt(
    df: pd.DataFrame, prompt: Callable[[pd.Series], Any], prefix: list[dict]
) -> list[list[dict]]:
    out: list[list[dict]] = []
    bad: list[Any] = []
    for label, row in df.iterrows():
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
