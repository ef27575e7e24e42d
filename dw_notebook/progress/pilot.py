"""Text of a pilot's report in a snapshot: measured figures, the rest's cost, the answers.

Pure functions of plain data (``PilotFigures`` as a dict, ``JobSnapshot.pilot``), shared by
``job.pilot_report()``, the terminal fallback and the widgets' static HTML; ``js/lib/format.js``
words the figures the same way.

``JobSnapshot.pilot`` is ``None`` for a job without a pilot, else a dict with ``state``
(``running``: the pilot's batch has not ended; ``ready``: it has, the rest waits for
``proceed``; ``proceeded``: the rest was sent), ``n`` and ``rest`` (rows), ``window`` (the
rest's window: the job's until proceed, then the one it was sent on), and once ended
``figures`` (window -> figures, one per window the rest can be sent on), ``columns`` (the answer
columns), ``rows`` (``prompt``: the row's own text, ``answers``, ``status``, ``error``,
``finish_reason``, ``prompt_tokens``, ``completion_tokens``), ``shared_prompt`` (the text every
row's prompt starts with, shown once; None: none), ``findings`` (answers cut off or not parsed,
and the fix proposed: see ``dw_notebook.progress.fixes``; None: nothing found) and ``error``
(why the report could not be read).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .fixes import finding_lines, needs_choice, proceed_call, rest_sent_text

WAITING = "pilot done, waiting for proceed"
PILOT_DONE = "pilot done"  # the badge of a job whose pilot waits for proceed
PROCEED_HINT = (
    "Send the rest: job.proceed(window='24h'), or with changes: "
    "job.proceed(prompt=..., max_tokens=...)"
)


def usd(value: float) -> str:
    """Dollars with enough digits to show small sums."""
    return f"${value:,.4f}" if value >= 0.01 or value == 0 else f"${value:.6f}"


def figure_lines(f: Mapping[str, Any]) -> list[str]:
    """A pilot's figures (``PilotFigures`` as a dict) as short lines of text."""
    out = [
        f"pilot: {f['pilot_rows']} rows, {f['answered']} answered, {f['failed']} failed, "
        f"{f['truncated']} truncated (finish_reason=length)"
    ]
    if f.get("input_tokens_per_row") is None:
        out.append("no answered row: nothing measured")
        return out
    sd = f" (sd {f['output_tokens_sd']:.1f})" if f.get("output_tokens_sd") is not None else ""
    out.append(
        f"measured per row: {f['input_tokens_per_row']:.1f} input + "
        f"{f['output_tokens_per_row']:.1f} output tokens{sd}"
    )
    rest = f"rest: {f['rest_rows']:,} rows, ~{f['rest_input_tokens']:,} input + "
    rest += f"~{f['rest_output_tokens']:,} output tokens"
    if f.get("rest_usd") is None:
        out.append(rest + f" (no price for {f['model']!r} in the {f['window']} window)")
        return out
    spread = ""
    if f.get("rest_low_usd") is not None and f.get("rest_high_usd") is not None:
        spread = f" (95%: {usd(f['rest_low_usd'])} to {usd(f['rest_high_usd'])})"
    out.append(f"{rest} ≈ {usd(f['rest_usd'])}{spread} on the {f['window']} window")
    if f.get("static_rest_usd") is not None:
        out.append(f"static estimate of the rest (bytes ÷ 4): {usd(f['static_rest_usd'])}")
    if f.get("pilot_usd") is not None:
        out.append(f"the pilot cost {usd(f['pilot_usd'])}")
    return out


def proceed_hint(pilot: Mapping[str, Any] | None) -> str:
    """What to run next: the fix the pilot's findings call for, else the plain proceed."""
    found = (pilot or {}).get("findings")
    if needs_choice(found):
        return (
            f"Send the rest with the fix: {proceed_call(found)}, "  # type: ignore[arg-type]
            "or as it is: job.proceed(send_unchanged=True)"
        )
    return PROCEED_HINT


def waiting(pilot: Mapping[str, Any] | None) -> bool:
    """Whether a snapshot's pilot has ended and the rest waits for ``proceed``."""
    return bool(pilot) and pilot.get("state") == "ready"  # type: ignore[union-attr]


def row_line(row: Mapping[str, Any], width: int = 60) -> str:
    """'[ok] 'Sentiment of: Loved it' -> 'positive'' (prompt and answer cut to ``width``)."""
    answers = row.get("answers") or {}
    answer = " · ".join(str(v) for v in answers.values() if v not in (None, ""))
    if row.get("error"):
        answer = f"{answer} ({row['error']})" if answer else str(row["error"])
    prompt = str(row.get("prompt") or "").replace("\n", " ")
    truncated = " (truncated)" if row.get("finish_reason") == "length" else ""
    return f"[{row.get('status')}] {prompt[:width]!r} -> {answer[:width]!r}{truncated}"


def format_pilot(pilot: Mapping[str, Any] | None) -> str:
    """The report of an ended pilot as lines of text ('' while it runs, or for no pilot)."""
    if not pilot or pilot.get("state") == "running":
        return ""
    lines = ["Pilot report"]
    if pilot.get("error"):
        lines.append(f"  the pilot's answers could not be read: {pilot['error']}")
    figures = (pilot.get("figures") or {}).get(pilot.get("window"))
    lines += ["  " + line for line in figure_lines(figures)] if figures else []
    lines += ["  " + line for line in finding_lines(pilot.get("findings"))]
    if pilot.get("shared_prompt"):
        lines.append(
            "  every prompt starts with: " + pilot["shared_prompt"].replace("\n", " ")[:120]
        )
    lines += ["  " + row_line(row) for row in pilot.get("rows") or []]
    if pilot.get("state") == "ready":
        lines.append(proceed_hint(pilot))
    else:
        text = rest_sent_text(pilot)
        lines.append(f"{text[0].upper()}{text[1:]}.")
    return "\n".join(lines)
