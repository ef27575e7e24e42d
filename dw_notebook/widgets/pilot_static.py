"""Static HTML of a pilot's report (waiting for proceed): its figures and its answers beside
their prompts, every text escaped; a card under the job's own, showing what the live widget
shows beside its Proceed button."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..progress.fixes import finding_lines
from ..progress.pilot import figure_lines, proceed_hint, waiting
from ..progress.snapshot import JobSnapshot
from .static import MUTED, card, escape, flex_rows, snapshot_html


def job_html(snap: JobSnapshot) -> str:
    """The job's static card, and the pilot's report below it while the rest waits."""
    html = snapshot_html(snap)
    return html + pilot_html(snap.pilot) if waiting(snap.pilot) else html  # type: ignore[arg-type]


def pilot_html(pilot: Mapping[str, Any]) -> str:
    """The report of an ended pilot (``JobSnapshot.pilot``) as a block of the job's card."""
    parts = ['<div style="font-weight:600">Pilot report</div>']
    if pilot.get("error"):
        parts.append(
            '<div style="color:var(--jp-error-color1, #d32f2f)">'
            f"the pilot's answers could not be read: {escape(pilot['error'])}</div>"
        )
    figures = (pilot.get("figures") or {}).get(pilot.get("window"))
    if figures:
        items = "".join(f"<li>{escape(line)}</li>" for line in figure_lines(figures))
        parts.append(f'<ul data-testid="dw-pilot-figures" style="margin:0;padding-left:1.2em">'
                     f"{items}</ul>")  # fmt: skip
    found = finding_lines(pilot.get("findings"))
    if found:
        items = "".join(f"<li>{escape(line)}</li>" for line in found)
        parts.append('<ul data-testid="dw-pilot-findings" style="margin:0;padding-left:1.2em;'
                     f'color:var(--jp-warn-color1, #f57c00)">{items}</ul>')  # fmt: skip
    if pilot.get("shared_prompt"):
        parts.append(f'<div style="{MUTED}">every prompt starts with: '
                     f"{escape(pilot['shared_prompt'])}</div>")  # fmt: skip
    rows = []
    for row in pilot.get("rows") or []:
        answer = " · ".join(v for v in (row.get("answers") or {}).values() if v)
        if row.get("error"):
            answer = f"{answer} ({row['error']})" if answer else row["error"]
        status = str(row.get("status") or "")
        if row.get("finish_reason") == "length":
            status += ", truncated"
        rows.append((row.get("prompt") or "", answer, status))
    if rows:
        header = [("prompt", "answer", "status")]
        parts.append(flex_rows(header + rows, ("1 1 16rem", "1 1 12rem", "0 0 6rem"),
                               "dw-pilot-rows"))  # fmt: skip
    parts.append(
        f'<div style="{MUTED};font-family:var(--jp-code-font-family, monospace)">'
        f"{escape(proceed_hint(pilot))}</div>"
    )
    return card("".join(parts), testid="dw-pilot-static")
