"""Static HTML of a job snapshot: what a notebook shows without a kernel or widget state."""

from __future__ import annotations

import re
from datetime import datetime

from ..markup import escape
from ..progress.snapshot import JobSnapshot, attempt_label, first_retry
from ..progress.text import (
    badge_label,
    costs,
    counts_text,
    format_counts,
    format_errors,
    format_line_counts,
    outcome_text,
    phase_label,
    queue_text,
    reconnect_note,
    recovered_text,
    send_failure,
    sending_text,
    stats,
    tokens_text,
)


def shade(alpha: float) -> str:
    """A grey that reads on light and dark pages (the fallback of tracks and borders)."""
    return f"rgba(128,128,128,{alpha:g})"


_PHASE_COLOURS = {
    "completed": "var(--jp-success-color1, #388e3c)",
    "failed": "var(--jp-error-color1, #d32f2f)",
    "expired": "var(--jp-warn-color1, #f57c00)",
    "cancelled": "var(--jp-layout-color4, #757575)",
    "cancelling": "var(--jp-layout-color4, #757575)",
    "in_progress": "var(--jp-brand-color1, #1976d2)",
}
_DEFAULT_COLOUR = "var(--jp-info-color1, #0288d1)"
MUTED = "color:var(--jp-ui-font-color2, #616161)"
CARD = (
    "font-family:var(--jp-ui-font-family, sans-serif);font-size:var(--jp-ui-font-size1, 13px);"
    "line-height:1.45;color:var(--jp-ui-font-color1, #1f1f1f);"
    "background:var(--jp-layout-color1, #ffffff);box-sizing:border-box;max-width:56rem;"
    "min-width:0;overflow-wrap:anywhere;padding:8px 10px;border-radius:4px;"
    f"border:1px solid var(--jp-border-color2, {shade(0.35)});display:flex;flex-direction:column;"
    "gap:6px"
)


# ``prop:var(--jp-x, fallback)`` -> ``prop:fallback;prop:var(--jp-x, fallback)``: an untrusted
# notebook's sanitizer drops var() values, so phase colours and bars keep their fallback there.
# Text and card background colours keep only the var() (they inherit the theme's): a light
# fallback would be unreadable when dark. Tracks, borders and code backgrounds fall back to a
# translucent grey (``shade()``), visible on a light and on a dark page alike.
_VAR = re.compile(
    r"([a-z-]+):((?:[^;\"]*?\s)?)var\((--jp-(?!ui-font-color|layout-color1)[\w-]+), "
    r"(#[0-9a-fA-F]{3,6}|rgba\([\d.,]+\))\)"
)


def _with_fallbacks(html_text: str) -> str:
    return _VAR.sub(r"\1:\2\4;\1:\2var(\3, \4)", html_text)


def card(body: str, *, colour: str = _DEFAULT_COLOUR, testid: str = "dw-static") -> str:
    """A static card shaped like the widgets' (same border, padding and fonts)."""
    return _with_fallbacks(
        f'<div data-testid="{testid}" style="{CARD};border-left:4px solid {colour}">{body}</div>'
    )


def _bar(fraction_done: float, fraction_failed: float, colour: str) -> str:
    return (
        '<div style="display:flex;height:10px;border-radius:999px;overflow:hidden;'
        f"background:var(--jp-layout-color2, {shade(0.2)});"
        f'border:1px solid var(--jp-border-color2, {shade(0.35)})">'
        f'<div style="width:{fraction_done * 100:.2f}%;background:{colour}"></div>'
        f'<div style="width:{fraction_failed * 100:.2f}%;'
        'background:var(--jp-error-color1, #d32f2f)"></div></div>'
    )


def _fractions(completed: int, failed: int, total: int) -> tuple[float, float]:
    if total <= 0:
        return 0.0, 0.0
    done = min(1.0, max(0.0, completed / total))
    return done, min(1.0 - done, max(0.0, failed / total))


def flex_rows(rows: list[tuple[str, ...]], flexes: tuple[str, ...], testid: str = "") -> str:
    """Rows of cells (plain text, escaped here) as wrapping flex lines: columns line up on a
    wide output and wrap instead of squeezing on a narrow one (a notebook's table styles
    would restyle a <table>). ``flexes`` is the CSS ``flex`` of each cell."""
    lines = []
    for row in rows:
        cells = "".join(
            f'<span style="flex:{flex};min-width:0;overflow-wrap:anywhere">{escape(cell)}</span>'
            for cell, flex in zip(row, flexes, strict=True)
        )
        lines.append(f'<div style="display:flex;flex-wrap:wrap;gap:0 10px">{cells}</div>')
    test = f' data-testid="{testid}"' if testid else ""
    return (
        f'<div{test} style="display:flex;flex-direction:column;gap:2px;'
        f'font-size:var(--jp-ui-font-size0, 12px)">{"".join(lines)}</div>'
    )


def _table(rows: list[tuple[str, str, str]], testid: str) -> str:
    return flex_rows(rows, ("0 1 16rem", "0 0 7rem", "1 1 10rem"), testid)


def snapshot_html(snap: JobSnapshot, now: datetime | None = None) -> str:
    """Self-contained, escaped HTML of a snapshot: the job's card where the widget cannot be
    rendered (saved notebook without widget state, nbviewer, GitHub) and at the end of a job.

    It carries no script and no class names that need the widget CSS, and looks like the live
    card (same border, bar, lines), so the output does not change look when the job ends.
    """
    colour = _PHASE_COLOURS.get(snap.phase, _DEFAULT_COLOUR)
    done, failed = _fractions(snap.completed, snap.failed, snap.total)
    name = f"<strong>{escape(snap.name)}</strong> " if snap.name else ""
    model = (
        f' <span style="{MUTED};font-family:var(--jp-code-font-family, monospace)">'
        f"{escape(snap.model)}</span>"
        if snap.model
        else ""
    )
    lines = [
        f'<div style="display:flex;gap:8px;align-items:center;flex-wrap:wrap;min-height:26px">'
        f'{name}<span data-testid="dw-phase" style="background:{colour};'
        "color:var(--jp-ui-inverse-font-color0, #ffffff);"
        "padding:0 8px;border-radius:999px;font-size:var(--jp-ui-font-size0, 11px);"
        f'font-weight:600">{escape(badge_label(snap))}</span>{model}</div>',
        _bar(done, failed, colour),
    ]
    # the same rows as the live card (js/progress.js), so the output keeps its look and height
    percent = (
        f'<span data-testid="dw-percent" style="font-weight:700">{snap.percent}%</span>'
        if snap.percent is not None
        else ""
    )
    details = [*stats(snap)]
    if tokens := tokens_text(snap):
        details.append(tokens)
    stats_html = f'<span style="{MUTED}">{escape(" · ".join(details))}</span>' if details else ""
    lines.append(
        '<div style="display:flex;gap:4px 12px;flex-wrap:wrap;align-items:baseline">'
        f'{percent}<span data-testid="dw-counts" style="font-weight:600">'
        f"{escape(_counts_line(snap))}</span>{stats_html}</div>"
    )
    if cost := costs(snap):
        lines.append(f'<div style="{MUTED}">{escape(cost)}</div>')
    if len(snap.attempts) > 1:
        rows = [
            (attempt_label(a.attempt, first_retry(snap)), phase_label(a.phase),
             format_counts(a.completed, a.failed, a.total))
            for a in snap.attempts
        ]  # fmt: skip
        lines.append(_table(rows, "dw-attempts"))
    if len(snap.batches) > 1:
        rows = [
            (b.id, phase_label(b.status), format_counts(b.completed, b.failed, b.total))
            for b in snap.batches
        ]
        lines.append(_table(rows, "dw-batches"))
    if note := reconnect_note(snap):
        lines.append(f'<div style="color:var(--jp-warn-color1, #f57c00)">{escape(note)}</div>')
    extra = snap.extra if isinstance(snap.extra, dict) else {}
    if problems := " · ".join(p for p in (format_errors(extra), format_line_counts(extra)) if p):
        lines.append(
            f'<div data-testid="dw-problems" style="color:var(--jp-error-color1, #d32f2f)">'
            f"{escape(problems)}</div>"
        )
    if snap.done:
        lines.append(f'<div style="font-weight:600">{escape(_summary_line(snap))}</div>')
    hint = snap.extra.get("hint") if isinstance(snap.extra, dict) else None
    if isinstance(hint, str) and hint:
        lines.append(
            f'<div style="{MUTED};font-family:var(--jp-code-font-family, monospace)">'
            f"{escape(hint)}</div>"
        )
    if snap.message:
        lines.append(f'<div style="{MUTED};font-style:italic">{escape(snap.message)}</div>')
    if not snap.done:  # a notebook saved mid-run shows this later: say when it was true
        stamp = (now or datetime.now().astimezone()).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
        lines.append(f'<div data-testid="dw-as-of" style="{MUTED}">as of {escape(stamp)}</div>')
    return card("\n".join(lines), colour=colour, testid="dw-progress-static")


def _counts_line(snap: JobSnapshot) -> str:
    """'37 / 300 done, 2 failed · 56 recovered on retry 1 · 250 running' (or, before the
    batches exist, what the submit has uploaded)."""
    if snap.sending is not None and not snap.sending.error:
        return sending_text(snap.sending)
    parts = [counts_text(snap)]
    parts += [t for t in (recovered_text(snap), queue_text(snap)) if t]
    return " · ".join(parts)


def _summary_line(snap: JobSnapshot) -> str:
    """'completed: 296 / 300 done, 2 failed, 2 not run in 1m 02s' (as the live card's)."""
    return send_failure(snap.sending) or outcome_text(snap)
