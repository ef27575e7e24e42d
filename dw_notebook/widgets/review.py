"""Results review: label distributions, failed rows with their errors, and paged sample rows.

The frame stays in the kernel. The page asks for one page at a time (``{"type": "page",
"view": "samples" | "unparsed" | "failed", "page": n, "filter": {"column", "label"}}``) and gets
it back as compact column-oriented JSON (one list per column, long texts cut at ``max_chars``),
never the whole frame.

>>> ReviewWidget(job.join(), prompt=prompts)  # doctest: +SKIP  (prompts: column, Series, callable)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anywidget
import numpy as np
import pandas as pd
import traitlets

from ..jsonl.results.counts import FAILED_STATUSES, RowCounts, row_counts
from ..markup import no_math
from ..progress.text import format_row_counts
from . import _assets
from .review_summary import error_groups, histogram, label_text, review_html, shared_prefix

log = logging.getLogger(__name__)

# The columns the package adds to a join to keep its books (row status, tokens, which batch,
# attempt and pilot phase): never answers, so never charted as labels or shown as answers.
META_COLUMNS = frozenset(
    {"status", "error", "finish_reason", "prompt_tokens", "completion_tokens", "batch_id",
     "attempt", "parse_error", "phase", "earlier_prompt"}
)  # fmt: skip
OK = "ok"
UNPARSED = "unparsed"
MISSING = None  # the label of missing answers in filters and distributions
# samples: parsed answers; unparsed: answers that do not fit the schema; failed: no answer
VIEWS = ("samples", "unparsed", "failed")
Prompt = str | pd.Series | Callable[[int], str] | None


def _json_value(value: Any, max_chars: int) -> Any:
    """A JSON-safe cell: None for missing, numbers as numbers, everything else as (cut) text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if not isinstance(value, str):
        try:
            if pd.isna(value):
                return None
        except (TypeError, ValueError):
            pass
        value = str(value)
    return value if len(value) <= max_chars else value[: max_chars - 1] + "…"


def charted_columns(answers: Sequence[str]) -> list[str]:
    """The answer columns that may get a chart: bookkeeping columns never do, even when a
    caller names them as answers."""
    return [c for c in answers if c not in META_COLUMNS]


def _is_label_column(series: pd.Series, max_labels: int) -> bool:
    if isinstance(series.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(series):
        return True
    if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
        return False
    values = series.dropna()
    if values.empty or not all(isinstance(v, str) for v in values.head(1000)):
        return False
    distinct = values.nunique()
    return distinct <= max_labels and distinct <= max(2, len(values) // 2)


class ReviewWidget(anywidget.AnyWidget):
    """Review a joined results frame: label charts, failures, and samples, page by page."""

    _esm = _assets.esm("review")
    _css = _assets.css("review")

    overview = traitlets.Dict().tag(sync=True)
    distributions = traitlets.List(traitlets.Dict()).tag(sync=True)
    histograms = traitlets.List(traitlets.Dict()).tag(sync=True)  # numeric answers
    errors = traitlets.List(traitlets.Dict()).tag(sync=True)  # failed rows by kind of error

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        answer_columns: Sequence[str] | None = None,
        label_columns: Sequence[str] | None = None,
        prompt: Prompt = None,
        status_column: str = "status",
        error_column: str = "error",
        page_size: int = 20,
        max_chars: int = 2000,
        max_labels: int = 20,
        seed: int = 0,
        first_retry: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._frame = frame
        self._page_size = max(1, page_size)
        self._max_chars = max_chars
        self._seed = seed
        self._rank: np.ndarray | None = None  # position of each row in the shuffled order
        self._masks: dict[tuple[str, Any], np.ndarray] = {}
        self._last_rows: tuple[Any, np.ndarray] | None = None
        if answer_columns is None:
            answer_columns = (
                ["content"]
                if "content" in frame.columns
                else [c for c in frame.columns if c not in META_COLUMNS]
            )
        self._answers = [str(c) for c in answer_columns if c in frame.columns]
        self._prompt = self._prompts(prompt)
        n = len(frame)
        status = (
            frame[status_column].astype("string").fillna("")
            if status_column in frame.columns
            else pd.Series([OK] * n, index=frame.index, dtype="string")
        )
        self._ok = (status == OK).to_numpy(dtype=bool)
        self._unparsed = (status == UNPARSED).to_numpy(dtype=bool)
        self._failed = status.isin(list(FAILED_STATUSES)).to_numpy(dtype=bool)
        # the one count of the rows, which the header, the tabs and the reprs all print
        self.counts = (
            row_counts(frame, status_column=status_column, first_retry=first_retry)
            if status_column in frame.columns
            else RowCounts(rows=n, answered=n, parsed=n, failed=0, missing=0)
        )
        self._error_columns = [c for c in (error_column, "parse_error") if c in frame.columns]
        self._status_column = status_column if status_column in frame.columns else None
        charted = charted_columns(self._answers)
        if label_columns is None:
            ok_rows = frame.loc[self._ok]
            label_columns = [c for c in charted if _is_label_column(ok_rows[c], max_labels)]
        self._labels = [c for c in charted_columns(label_columns) if c in frame.columns]
        by_status = status.value_counts()
        counts = self.counts
        with self.hold_sync():
            self.overview = {
                "rows": n,
                "counts": counts.to_dict(),
                "by_status": {str(k): int(v) for k, v in by_status.items()},
                "answer_columns": self._answers,
                "label_columns": self._labels,
                "has_prompt": self._prompt is not None,
                "page_size": self._page_size,
                "views": {
                    "samples": counts.parsed,
                    "unparsed": counts.unparsed,
                    "failed": counts.failed,
                },
            }
            self.distributions = [self._distribution(c, max_labels) for c in self._labels]
            ok_rows = frame.loc[self._ok]
            self.histograms = [
                h for c in charted if c not in self._labels
                if (h := histogram(ok_rows[c], c)) is not None
            ]  # fmt: skip
            self.errors = error_groups(
                frame, self._failed | self._unparsed, self._status_column, self._error_columns
            )
        self._empty: dict[str, set[str]] = {}  # view -> answer columns empty in every row
        self.on_msg(self._on_frontend_msg)

    def _prompts(self, prompt: Prompt) -> Callable[[np.ndarray], list[Any]] | None:
        frame = self._frame
        if prompt is None:
            return None
        if isinstance(prompt, str):
            column = frame[prompt]
            return lambda rows: column.iloc[rows].tolist()
        if isinstance(prompt, pd.Series):
            aligned = prompt.reindex(frame.index)
            return lambda rows: aligned.iloc[rows].tolist()
        if callable(prompt):
            return lambda rows: [prompt(int(i)) for i in rows]
        raise TypeError("prompt must be a column name, a Series, a callable or None")

    def _distribution(self, column: str, max_labels: int) -> dict[str, Any]:
        values = self._frame[column][self._ok]
        counts = values.astype("object").value_counts(dropna=True)
        # most frequent first; ties in label order so reruns draw the same chart
        counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
        top = counts.head(max_labels)
        return {
            "column": column,
            "values": [{"label": label_text(k), "count": int(v)} for k, v in top.items()],
            "other": int(counts.iloc[max_labels:].sum()),
            "missing": int(values.isna().sum()),
            "total": int(len(values)),
        }

    # -- pages -----------------------------------------------------------------------------------

    def _label_mask(self, column: str, label: Any) -> np.ndarray:
        key = (column, label)
        mask = self._masks.get(key)
        if mask is None:
            series = self._frame[column]
            if label is MISSING:
                mask = series.isna().to_numpy(dtype=bool)
            elif pd.api.types.is_bool_dtype(series):
                mask = (series == (str(label) == "true")).fillna(False).to_numpy(dtype=bool)
            else:
                mask = (series.astype("string") == str(label)).fillna(False).to_numpy(dtype=bool)
            if len(self._masks) >= 16:  # a few labels of a few columns; bound the memory
                self._masks.pop(next(iter(self._masks)))
            self._masks[key] = mask
        return mask

    def _rows(self, view: str, label_filter: Mapping[str, Any] | None, shuffle: bool) -> np.ndarray:
        # paging through one view asks for the same rows again: keep the last answer
        key = (view, repr(sorted(label_filter.items())) if label_filter else None, shuffle)
        if self._last_rows is not None and self._last_rows[0] == key:
            return self._last_rows[1]
        rows = self._select_rows(view, label_filter, shuffle)
        self._last_rows = (key, rows)
        return rows

    def _select_rows(
        self, view: str, label_filter: Mapping[str, Any] | None, shuffle: bool
    ) -> np.ndarray:
        mask = self._view_mask(view)
        if view == "samples" and label_filter and label_filter.get("column") in self._labels:
            mask = mask & self._label_mask(label_filter["column"], label_filter.get("label"))
        rows = np.flatnonzero(mask)
        if shuffle and view == "samples":
            if self._rank is None:
                order = np.random.default_rng(self._seed).permutation(len(self._frame))
                self._rank = np.empty_like(order)
                self._rank[order] = np.arange(len(order))
            rows = rows[np.argsort(self._rank[rows], kind="stable")]
        return rows

    def page(
        self,
        view: str = "samples",
        page: int = 0,
        label_filter: Mapping[str, Any] | None = None,
        shuffle: bool = False,
    ) -> dict[str, Any]:
        """One page of ``view`` as ``{"columns", "index", "data": {column: [values]}, ...}``."""
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}")
        rows = self._rows(view, label_filter, shuffle)
        total = len(rows)
        pages = max(1, math.ceil(total / self._page_size))
        page = min(max(0, int(page)), pages - 1)
        chosen = rows[page * self._page_size : (page + 1) * self._page_size]
        sub = self._frame.iloc[chosen]
        data: dict[str, list[Any]] = {}
        shared = ""
        if self._prompt is not None:
            prompts = self._prompt(chosen)
            shared = shared_prefix(prompts)
            data["prompt"] = [p[len(shared) :] if isinstance(p, str) else p for p in prompts]
        if view == "failed":
            if self._status_column:
                data["status"] = sub[self._status_column].tolist()
            for column in self._error_columns:
                if column != "parse_error":  # a failed row has no answer to parse
                    data[column] = sub[column].tolist()
        elif view == UNPARSED:  # why the answer does not fit, and whether it was cut off
            for column in ("parse_error", "finish_reason"):
                if column in sub.columns:
                    data[column] = sub[column].tolist()
        empty = self._empty_in(view)
        for column in self._answers:
            if column not in empty:
                data[column] = sub[column].tolist()
        data = {k: [_json_value(v, self._max_chars) for v in vs] for k, vs in data.items()}
        return {
            "view": view,
            "page": page,
            "pages": pages,
            "total": total,
            "filter": dict(label_filter) if label_filter else None,
            "columns": list(data),
            "index": [_json_value(str(i), 200) for i in sub.index],
            "data": data,
            "shared_prompt": _json_value(shared, self._max_chars) if shared else None,
            "hidden_columns": sorted(empty),
        }

    def _empty_in(self, view: str) -> set[str]:
        """Answer columns with no value in any row of ``view`` (hidden: they only take room)."""
        if view not in self._empty:
            sub = self._frame.iloc[np.flatnonzero(self._view_mask(view))]
            self._empty[view] = {c for c in self._answers if sub[c].isna().all()}
        return self._empty[view]

    def _view_mask(self, view: str) -> np.ndarray:
        return {"failed": self._failed, UNPARSED: self._unparsed}.get(view, self._ok)

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict, dict] | None:
        """The widget, plus a static HTML summary for notebooks saved without widget state."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        html = review_html(self.overview, self.distributions, self.histograms, self.errors)
        return {**data, "text/html": no_math(html)}, metadata

    def _on_frontend_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict) or content.get("type") != "page":
            return
        view = content.get("view") if content.get("view") in VIEWS else "samples"
        label_filter = content.get("filter") if isinstance(content.get("filter"), dict) else None
        try:
            page = int(content.get("page") or 0)
        except (TypeError, ValueError):
            page = 0
        try:
            reply = self.page(view, page, label_filter, bool(content.get("shuffle")))
        except Exception as exc:  # a bad page request must not break the comm
            log.exception("review page failed")
            reply = {"view": view, "error": str(exc)}
        self.send({"type": "page", "id": content.get("id"), **reply})

    def __repr__(self) -> str:
        labels = ", ".join(self._labels)
        return (
            f"<dw review: {format_row_counts(self.counts.to_dict())}"
            f"{'; labels: ' + labels if labels else ''}>"
        )
