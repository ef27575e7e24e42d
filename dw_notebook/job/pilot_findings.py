"""What a pilot showed that the rest would repeat (answers cut off at ``max_tokens``, answers
not matching the schema), the change that fixes it, and the rule that ``proceed`` and
``retry`` never silently send the same mistake again.

The findings' shape and wording are in ``dw_notebook.progress.fixes``. ``proceed`` and
``retry`` take the fix as arguments (``max_tokens=64``, ``schema_hint=True``) or send as
before when told so (``send_unchanged=True``); otherwise they raise ``RepeatedCauseError``
naming the count, the cause and the exact call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson
import pandas as pd

from ..errors import JobError
from ..jsonl.requests._preview import _schema_line
from ..progress.fixes import cap_of, cap_text, proposed_max_tokens

IDS_SHOWN = 5


class RepeatedCauseError(JobError):
    """Sending would repeat a failure the earlier answers showed (same cap, same request)."""


def cut_off(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose answer hit the length cap (finish_reason=length)."""
    if "finish_reason" not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return frame["finish_reason"].eq("length").fillna(False).to_numpy(dtype=bool)


def unparsed(frame: pd.DataFrame) -> np.ndarray:
    """Rows answered in full whose answer did not parse against the schema."""
    if "parse_error" not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    has_error = frame["parse_error"].notna().to_numpy(dtype=bool)
    return has_error & ~cut_off(frame)


def _tokens(frame: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    if "completion_tokens" not in frame.columns:
        return np.zeros(0)
    values = frame["completion_tokens"].to_numpy(dtype="float64", na_value=np.nan)[rows]
    return values[~np.isnan(values)]


def schema_hint(body: Mapping[str, Any]) -> str | None:
    """The line that tells a model the schema of a request's ``response_format`` (None: no
    schema)."""
    response_format = body.get("response_format")
    if not isinstance(response_format, dict) or "json_schema" not in response_format:
        return None
    return f"Answer with only a JSON object, no other text. {_schema_line(response_format)}"


def findings(rows: pd.DataFrame, body: Mapping[str, Any]) -> dict[str, Any] | None:
    """The pilot's findings (see ``dw_notebook.progress.fixes``) from its joined ``rows`` and
    one of its request bodies; None when it found nothing to fix."""
    short, bad = cut_off(rows), unparsed(rows)
    if not short.any() and not bad.any():
        return None
    status = rows["status"].to_numpy(dtype=object) if "status" in rows.columns else None
    complete = ~short & ~bad if status is None else (status == "ok") & ~short & ~bad
    cut_tokens, whole_tokens = _tokens(rows, short), _tokens(rows, complete)
    cut_at = int(cut_tokens.max()) if cut_tokens.size else cap_of(body)
    longest = int(whole_tokens.max()) if whole_tokens.size else None
    examples = rows["parse_error"][bad].dropna() if bad.any() else pd.Series([], dtype=object)
    return {
        "rows": len(rows),
        "truncated": int(short.sum()),
        "cap": cap_of(body),
        "cut_at": cut_at,
        "longest_complete": longest,
        "max_tokens": proposed_max_tokens(cut_at, longest) if short.any() else None,
        "unparsed": int(bad.sum()),
        "parse_example": str(examples.iloc[0])[:200] if len(examples) else None,
        "schema_hint": schema_hint(body),
    }


def unaddressed(f: Mapping[str, Any] | None, changes: Mapping[str, Any]) -> list[str]:
    """The findings ``changes`` leave as they were: 'truncated', 'unparsed'."""
    if not f:
        return []
    left = []
    new_cap = cap_of(changes)
    if f.get("truncated") and (new_cap is None or new_cap <= (f.get("cut_at") or 0)):
        left.append("truncated")
    rewritten = any(k in changes for k in ("prompt", "system", "examples", "schema_hint"))
    if f.get("unparsed") and not rewritten:
        left.append("unparsed")
    return left


def refuse_proceed(f: dict[str, Any], left: list[str], rest: int) -> RepeatedCauseError:
    """The error of a ``proceed`` that would send the rest with what the pilot showed wrong."""
    causes, fixes = [], []
    if "truncated" in left:
        longest = f.get("longest_complete")
        causes.append(
            f"{f['truncated']} of {f['rows']} pilot answers were cut off at "
            f"{cap_text(f.get('cap'))} (finish_reason=length)"
            + (f"; the longest complete answer used {longest} tokens" if longest else "")
        )
        fixes.append(f"max_tokens={f['max_tokens']}")
    if "unparsed" in left:
        causes.append(
            f"{f['unparsed']} of {f['rows']} pilot answers did not parse against the schema"
            + (f" ({f['parse_example']})" if f.get("parse_example") else "")
        )
        fixes.append("schema_hint=True")
    return RepeatedCauseError(
        f"{'; '.join(causes)}. Sending the other {rest:,} rows unchanged repeats it; nothing "
        f"was sent. Fix: job.proceed({', '.join(fixes)}); or send them as they are: "
        "job.proceed(send_unchanged=True)"
    )


def check_retry(
    frame: pd.DataFrame, ids: Any, wanted: set[str], lines: list[bytes], overrides: Mapping
) -> None:
    """Raise when the retry's ``lines`` send rows cut off at a cap again with no more room, or
    rows whose answer did not parse with the same request (``frame``: the join, ``ids``: a
    custom_id per row of it)."""
    by_id = {orjson.loads(line)["custom_id"]: orjson.loads(line)["body"] for line in lines}
    short, bad = cut_off(frame), unparsed(frame)
    tokens = frame["completion_tokens"].to_numpy(dtype="float64", na_value=np.nan) \
        if "completion_tokens" in frame.columns else np.full(len(frame), np.nan)  # fmt: skip
    again_short, again_bad, cut_at = [], [], 0
    rewritten = "schema_hint" in overrides
    for i in np.flatnonzero(short | bad):
        cid = ids[i]
        if cid not in wanted or cid not in by_id:
            continue
        if short[i]:
            reached = 0 if np.isnan(tokens[i]) else int(tokens[i])
            cap = cap_of(by_id[cid])
            if cap is None or cap <= reached:
                again_short.append(cid)
                cut_at = max(cut_at, reached)
        elif not rewritten and not overrides:
            again_bad.append(cid)
    if not again_short and not again_bad:
        return
    parts, fixes = [], []
    if again_short:
        parts.append(
            f"{len(again_short):,} rows were cut off at {cut_at} tokens (finish_reason=length) "
            f"and would be sent with no more room ({_sample(again_short)})"
        )
        fixes.append(f"max_tokens={proposed_max_tokens(cut_at, None)}")
    if again_bad:
        parts.append(
            f"{len(again_bad):,} rows answered but did not parse against the schema and would "
            f"be sent as the same request ({_sample(again_bad)})"
        )
        fixes.append("schema_hint=True")
    raise RepeatedCauseError(
        f"{'; '.join(parts)}; nothing was sent. Fix: job.retry({', '.join(fixes)}); or send "
        "them as they are: job.retry(send_unchanged=True)"
    )


def _sample(ids: list[str]) -> str:
    shown = ", ".join(map(str, ids[:IDS_SHOWN]))
    return f"ids {shown}" + (f" and {len(ids) - IDS_SHOWN:,} more" if len(ids) > IDS_SHOWN else "")


def with_schema_hint(line: bytes, hint: str | None) -> bytes:
    """A chat request line with ``hint`` added to its system prompt (a system message made when
    it has none); other requests, or no hint, unchanged."""
    if not hint:
        return line
    request = orjson.loads(line)
    messages = request["body"].get("messages")
    if not isinstance(messages, list):
        return line
    if messages and messages[0].get("role") == "system":
        first = messages[0]
        if isinstance(first.get("content"), str) and hint not in first["content"]:
            first["content"] = f"{first['content']}\n{hint}"
    else:
        messages.insert(0, {"role": "system", "content": hint})
    return orjson.dumps(request)
