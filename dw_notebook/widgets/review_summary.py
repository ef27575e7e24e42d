"""What the review shows besides the pages: errors grouped by type, histograms of numeric
answers, the prompt lines every row shares, and the static HTML of it all (what a notebook
shows where the widget cannot be rendered)."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..progress.fixes import retry_advice
from ..progress.text import format_row_counts
from .static import MUTED, card, escape, flex_rows, shade

_HTTP = re.compile(r"^HTTP (\d{3})(?:: ([a-z][a-z0-9_]*):)?")
_HINTS = {
    "4": "not fixed by a retry: change the input (e.g. shorten the prompt) or max_tokens",
    "5": "temporary on the service side: job.retry() runs these rows again",
    "429": "rate limited: job.retry() runs these rows again",
}
HISTOGRAM_BINS = 10


def error_kind(text: str) -> str:
    """'HTTP 400 context_length_exceeded', 'HTTP 500', or the first words of the error."""
    match = _HTTP.match(text)
    if match:
        return f"HTTP {match.group(1)}" + (f" {match.group(2)}" if match.group(2) else "")
    first = text.split(":", 1)[0].strip()
    return first[:60] or "error"


def _hint(kind: str) -> str:
    code = kind.split()[1] if kind.startswith("HTTP ") else ""
    if code in _HINTS:
        return _HINTS[code]
    if code[:1] in _HINTS:
        return _HINTS[code[:1]]
    if kind in ("expired", "cancelled", "not run"):
        return "never answered: job.retry() runs these rows again"
    if kind == "parse error":
        return retry_advice(0, None, 1)
    return "job.retry() runs failed rows again"


CUT_OFF = "cut off at max_tokens"


def _cut_off_tokens(rows: pd.DataFrame) -> list[int | None]:
    """Per row, the completion tokens at which its answer was cut off (None: not cut off)."""
    if "finish_reason" not in rows.columns:
        return [None] * len(rows)
    cut = rows["finish_reason"].eq("length").fillna(False).to_numpy(dtype=bool)
    tokens = (
        rows["completion_tokens"].to_numpy(dtype="float64", na_value=np.nan)
        if "completion_tokens" in rows.columns
        else np.full(len(rows), np.nan)
    )
    return [(0 if np.isnan(t) else int(t)) if c else None for c, t in zip(cut, tokens, strict=True)]


def error_groups(
    frame: pd.DataFrame, failed: np.ndarray, status_column: str | None, error_columns: Sequence[str]
) -> list[dict[str, Any]]:
    """Rows without a usable answer grouped by kind of error, largest group first, with a hint
    for each and the review ``view`` that lists them (``unparsed`` for parse errors)."""
    if not failed.any():
        return []
    rows = frame.loc[failed]
    columns = [rows[c].astype("string").fillna("").tolist() for c in error_columns]
    names = list(error_columns)
    status = (
        rows[status_column].astype("string").fillna("").tolist()
        if status_column
        else [""] * len(rows)
    )
    texts = []
    for i in range(len(rows)):
        text = ""
        for name, values in zip(names, columns, strict=True):
            if values[i]:
                text = values[i] if name != "parse_error" else "parse error"
                break
        texts.append(text or status[i])
    cut_at = _cut_off_tokens(rows)
    kinds: dict[str, dict[str, Any]] = {}
    for text, reached in zip(texts, cut_at, strict=True):
        kind = (
            (error_kind(text) if text not in ("parse error", "expired", "cancelled") else text)
            if text
            else "not run"
        )
        if text == "parse error" and reached is not None:
            kind = CUT_OFF
        group = kinds.setdefault(kind, {"kind": kind, "count": 0, "example": text, "cut_at": 0})
        group["count"] += 1
        group["cut_at"] = max(group["cut_at"], reached or 0)
    groups = sorted(kinds.values(), key=lambda g: (-g["count"], g["kind"]))
    for group in groups:
        cut = group.pop("cut_at")
        group["hint"] = (
            retry_advice(1, cut, 0) if group["kind"] == CUT_OFF else _hint(group["kind"])
        )
        # the review tab that lists the group's rows
        group["view"] = "unparsed" if group["kind"] in ("parse error", CUT_OFF) else "failed"
    return groups


def histogram(series: pd.Series, column: str) -> dict[str, Any] | None:
    """Counts of a numeric answer in up to ten equal bins (integers: one bin per value when
    there are few); None when the column is not numeric or empty."""
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        return None
    values = pd.to_numeric(series, errors="coerce").dropna().astype(float).to_numpy()
    if values.size == 0:
        return None
    lo, hi = float(values.min()), float(values.max())
    integers = bool(np.all(np.mod(values, 1) == 0))
    if integers and hi - lo < HISTOGRAM_BINS:
        edges = np.arange(lo, hi + 2)
    else:
        edges = np.linspace(lo, hi if hi > lo else lo + 1, HISTOGRAM_BINS + 1)
    counts, edges = np.histogram(values, bins=edges)
    bins = []
    for i, count in enumerate(counts):
        a, b = edges[i], edges[i + 1]
        label = f"{a:g}" if integers and b - a == 1 else f"{a:.3g}–{b:.3g}"
        bins.append({"label": label, "count": int(count)})
    return {"column": column, "bins": bins, "missing": int(series.isna().sum()),
            "total": int(len(series)), "min": lo, "max": hi}  # fmt: skip


def shared_prefix(prompts: Sequence[Any]) -> str:
    """The whole lines every prompt starts with (a system prompt repeated in every row)."""
    texts = [p for p in prompts if isinstance(p, str)]
    if len(texts) < 2:
        return ""
    prefix = os.path.commonprefix(texts)
    cut = prefix.rfind("\n")
    return prefix[: cut + 1] if cut > 0 else ""


def label_text(value: Any) -> str:
    """One spelling everywhere: booleans as true / false, as JSON and the table show them."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    return str(value)


def review_html(
    overview: dict[str, Any],
    distributions: Sequence[dict[str, Any]],
    histograms: Sequence[dict[str, Any]],
    errors: Sequence[dict[str, Any]],
) -> str:
    """A static card of the review: counts, label charts (every bucket, as the live widget:
    other and missing too, with percentages), histograms and errors by type."""
    counts = format_row_counts(overview.get("counts") or {"rows": overview.get("rows", 0)})
    body = [
        f'<div><strong>Results</strong> <span data-testid="dw-review-counts" style="{MUTED}">'
        f"{escape(counts)}</span></div>"
    ]
    charts = [(d["column"], _buckets(d), d.get("total", 0)) for d in distributions]
    charts += [
        (h["column"], [(b["label"], b["count"]) for b in h["bins"]], h.get("total", 0))
        for h in histograms
    ]
    if charts:
        body.append('<div style="display:flex;flex-wrap:wrap;gap:8px 24px">')
        top = max([c for _, bars, _ in charts for _, c in bars] + [1])  # one scale for all
        body += [_chart(column, bars, top, total) for column, bars, total in charts]
        body.append("</div>")
    if errors:
        rows = [(f"{g['count']:,}", g["kind"], g["hint"]) for g in errors]
        title = (
            "Unparsed and failed rows by error"
            if any(g.get("view") == "unparsed" for g in errors)
            else "Failed rows by error"
        )
        body.append(
            f'<div style="font-weight:600">{title}</div>'
            + flex_rows(rows, ("0 0 3.5rem", "0 1 16rem", "1 1 12rem"), "dw-error-groups")
        )
    body.append(
        f'<div style="{MUTED};font-style:italic">pages of rows show in the live widget '
        "(run the cell again)</div>"
    )
    return card("".join(body), testid="dw-review-static")


def _buckets(distribution: dict[str, Any]) -> list[tuple[str, int]]:
    bars = [(v["label"], v["count"]) for v in distribution["values"]]
    if distribution.get("other"):
        bars.append(("other", distribution["other"]))
    if distribution.get("missing"):
        bars.append(("(missing)", distribution["missing"]))
    return bars


def _percent(count: int, whole: int) -> int:
    return math.floor(100 * count / whole + 0.5)  # as the widget's Math.round, not to even


def _chart(column: str, bars: Sequence[tuple[str, int]], top: int, total: int) -> str:
    whole = max(total, 1)
    rows = "".join(
        f'<div style="display:grid;grid-template-columns:minmax(3rem,8rem) 10rem '
        f'6rem;gap:6px;align-items:center"><span style="overflow:hidden;text-overflow:ellipsis;'
        f'white-space:nowrap">{escape(label)}</span><span style="height:10px;'
        f'background:var(--jp-layout-color2, {shade(0.2)})"><span style="display:block;height:100%;'
        f'width:{100 * count / top:.1f}%;background:var(--jp-brand-color1, #1976d2)"></span>'
        f'</span><span style="text-align:right;{MUTED}">{count:,} ({_percent(count, whole)}%)'
        "</span></div>"
        for label, count in bars
    )
    return (
        f'<div style="min-width:0"><div style="font-weight:600">{escape(column)}</div>{rows}</div>'
    )
