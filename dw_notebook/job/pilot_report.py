"""What a pilot measured, and the cost of the rest extrapolated from it (with its spread).

Input tokens of the rest are extrapolated by ratio: measured prompt tokens per byte of request
line in the pilot, times the bytes of the rest's lines (so long rows count as long). Output
tokens by the pilot's mean per answered row. The spread is a 95% interval from the pilot's
row-to-row variation (with the finite-population correction); a pilot of one row has none.
Like the static estimate, the figure is what the rest costs if every row is answered.
"""

from __future__ import annotations

import html
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..markup import no_math
from ..prices import price_for
from ..progress.fixes import finding_lines
from ..progress.pilot import figure_lines, proceed_hint

Z95 = 1.96


_META = {"status", "error", "finish_reason", "prompt_tokens", "completion_tokens", "batch_id"}


@dataclass(frozen=True)
class PilotFigures:
    """Measured per-row figures of a pilot and the extrapolated cost of the rest (USD)."""

    model: str
    window: str  # the window the rest is priced at
    pilot_rows: int
    answered: int
    failed: int
    truncated: int
    input_tokens_per_row: float | None
    output_tokens_per_row: float | None
    output_tokens_sd: float | None
    rest_rows: int
    rest_input_tokens: int | None
    rest_output_tokens: int | None
    pilot_usd: float | None  # what the pilot cost, at the pilot's window
    rest_usd: float | None
    rest_low_usd: float | None
    rest_high_usd: float | None
    static_rest_usd: float | None  # the estimate from bytes, before the pilot

    @property
    def total_usd(self) -> float | None:
        """Pilot (measured) plus the rest (extrapolated)."""
        if self.rest_usd is None:
            return None
        return (self.pilot_usd or 0.0) + self.rest_usd

    def lines(self) -> list[str]:
        """The figures as short lines of text (the text fallback and the HTML share them)."""
        return figure_lines(asdict(self))


def extrapolate(
    measured: pd.DataFrame,
    pilot_bytes: np.ndarray,
    rest_bytes: np.ndarray,
    *,
    model: str,
    window: str,
    pilot_window: str,
    static_rest_usd: float | None = None,
) -> PilotFigures:
    """Figures from the pilot rows (``status``, ``finish_reason``, ``prompt_tokens``,
    ``completion_tokens``), the byte size of each pilot request line and of each rest line."""
    ok = measured["status"].isin(("ok", "unparsed")).to_numpy()  # answered and paid for
    failed = int(measured["status"].isin(("failed", "expired", "cancelled")).sum())
    truncated = int(measured["finish_reason"].eq("length").fillna(False).sum())
    tokens_in = measured["prompt_tokens"].to_numpy(dtype="float64", na_value=np.nan)[ok]
    tokens_out = measured["completion_tokens"].to_numpy(dtype="float64", na_value=np.nan)[ok]
    tokens_in, tokens_out = np.nan_to_num(tokens_in), np.nan_to_num(tokens_out)
    n, n_rest = int(ok.sum()), len(rest_bytes)
    base: dict[str, Any] = dict(
        model=model,
        window=window,
        pilot_rows=len(measured),
        answered=n,
        failed=failed,
        truncated=truncated,
        rest_rows=n_rest,
        static_rest_usd=static_rest_usd,
    )
    if n == 0:
        return PilotFigures(
            **base,
            input_tokens_per_row=None,
            output_tokens_per_row=None,
            output_tokens_sd=None,
            rest_input_tokens=None,
            rest_output_tokens=None,
            pilot_usd=None,
            rest_usd=None,
            rest_low_usd=None,
            rest_high_usd=None,
        )
    sent_bytes = np.asarray(pilot_bytes, dtype="float64")[ok]
    ratio = tokens_in.sum() / max(sent_bytes.sum(), 1.0)  # input tokens per request byte
    rest_in = ratio * float(np.sum(rest_bytes))
    rest_out = tokens_out.mean() * n_rest
    price = price_for(model, window)
    pilot_price = price_for(model, pilot_window)
    pilot_usd = None
    if pilot_price is not None:
        pilot_usd = float(tokens_in.sum() * pilot_price.input
                          + tokens_out.sum() * pilot_price.output) / 1e6  # fmt: skip
    rest_usd = low = high = None
    if price is not None:
        rest_usd = float(rest_in * price.input + rest_out * price.output) / 1e6
        if n > 1:
            total = n + n_rest
            fpc = math.sqrt(max(total - n, 0) / max(total - 1, 1))
            residual = tokens_in - ratio * sent_bytes
            se_in = n_rest * math.sqrt((residual**2).sum() / (n - 1) / n) * fpc
            se_out = n_rest * tokens_out.std(ddof=1) / math.sqrt(n) * fpc
            se = math.hypot(float(se_in) * price.input, float(se_out) * price.output) / 1e6
            low, high = max(rest_usd - Z95 * se, 0.0), rest_usd + Z95 * se
    return PilotFigures(
        **base,
        input_tokens_per_row=float(tokens_in.mean()),
        output_tokens_per_row=float(tokens_out.mean()),
        output_tokens_sd=float(tokens_out.std(ddof=1)) if n > 1 else None,
        rest_input_tokens=round(rest_in),
        rest_output_tokens=round(rest_out),
        pilot_usd=pilot_usd,
        rest_usd=rest_usd,
        rest_low_usd=low,
        rest_high_usd=high,
    )


class PilotReport:
    """The pilot's answers beside their prompts, and its measured figures.

    >>> report = job.pilot_report()   # doctest: +SKIP  (waits for the pilot)
    >>> report.figures.rest_usd       # doctest: +SKIP
    >>> report.rows                   # doctest: +SKIP  (prompt, answer columns, status, tokens)
    """

    def __init__(self, figures: PilotFigures, rows: pd.DataFrame, answer_columns: list[str]):
        self.figures = figures
        self.rows = rows
        self.answer_columns = answer_columns

    @property
    def findings(self) -> dict[str, Any] | None:
        """Answers cut off or not parsed, and the fix proposed (``dw_notebook.progress.fixes``)."""
        return self.rows.attrs.get("findings")

    def _shown(self) -> pd.DataFrame:
        cols = ["prompt", *self.answer_columns, "status", "error", "finish_reason"]
        cols += ["prompt_tokens", "completion_tokens"]
        return self.rows[[c for c in cols if c in self.rows.columns]]

    def __repr__(self) -> str:
        lines = ["Pilot report", *("  " + line for line in self.figures.lines())]
        lines += ["  " + line for line in finding_lines(self.findings)]
        for _, row in self._shown().iterrows():
            answer = " · ".join(str(row[c]) for c in self.answer_columns if c in row.index)
            prompt = str(row.get("prompt", "")).replace("\n", " ")[:60]
            lines.append(f"  [{row['status']}] {prompt!r} -> {answer[:60]!r}")
        lines.append(proceed_hint({"findings": self.findings}))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        shown = [*self.figures.lines(), *finding_lines(self.findings)]
        figures = "".join(f"<li>{html.escape(line)}</li>" for line in shown)
        table = self._shown().to_html(escape=True, na_rep="")
        return no_math(
            f"<div><b>Pilot report</b><ul>{figures}</ul>{table}".replace("$", "&#36;")
            + f"<p>{html.escape(proceed_hint({'findings': self.findings}))}</p></div>"
        )


def answer_columns(frame: pd.DataFrame, original: pd.DataFrame) -> list[str]:
    """The result columns holding answers (not the frame's own, not the meta columns)."""
    skip = set(original.columns) | _META | {"attempt", "phase", "earlier_prompt", "prompt"}
    return [c for c in frame.columns if c not in skip]
