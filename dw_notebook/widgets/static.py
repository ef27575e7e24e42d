"""Static HTML of a job snapshot: what a notebook shows without a kernel or widget state."""

from __future__ import annotations

from html import escape

from ..progress.snapshot import JobSnapshot
from ..progress.text import costs, format_count, format_counts, phase_label, reconnect_note, stats

_PHASE_COLOURS = {
    "completed": "var(--jp-success-color1, #388e3c)",
    "failed": "var(--jp-error-color1, #d32f2f)",
    "expired": "var(--jp-warn-color1, #f57c00)",
    "cancelled": "var(--jp-layout-color4, #757575)",
    "cancelling": "var(--jp-layout-color4, #757575)",
    "in_progress": "var(--jp-brand-color1, #1976d2)",
}
_DEFAULT_COLOUR = "var(--jp-info-color1, #0288d1)"


def snapshot_html(snap: JobSnapshot) -> str:
    """Self-contained, escaped HTML of a snapshot, left in the notebook when a job ends.

    It carries no script and no class names that need the widget CSS, so a saved or exported
    notebook shows the outcome without a kernel (nbviewer, GitHub, JupyterLab without state).
    """
    colour = _PHASE_COLOURS.get(snap.phase, _DEFAULT_COLOUR)
    fraction_done = min(1.0, max(0.0, snap.completed / snap.total)) if snap.total > 0 else 0.0
    fraction_failed = (
        min(1.0 - fraction_done, max(0.0, snap.failed / snap.total)) if snap.total > 0 else 0.0
    )
    muted = "color:var(--jp-ui-font-color2, #616161)"
    name = f"<strong>{escape(snap.name)}</strong> " if snap.name else ""
    model = f' <span style="{muted}">{escape(snap.model)}</span>' if snap.model else ""
    lines = [
        f'<div data-testid="dw-progress-static" style="font-family:var(--jp-ui-font-family, '
        f"sans-serif);border-left:4px solid {colour};padding:4px 10px;max-width:56rem;"
        f'color:var(--jp-ui-font-color1, #1f1f1f)">',
        f'<div>{name}<span data-testid="dw-phase" style="color:{colour};font-weight:600">'
        f"{escape(phase_label(snap.phase))}</span>{model}</div>",
        '<div style="display:flex;height:8px;margin:4px 0;border-radius:4px;overflow:hidden;'
        'background:var(--jp-layout-color2, #eeeeee)">'
        f'<div style="width:{fraction_done * 100:.2f}%;background:{colour}"></div>'
        f'<div style="width:{fraction_failed * 100:.2f}%;'
        'background:var(--jp-error-color1, #d32f2f)"></div></div>',
        f'<div data-testid="dw-counts" style="font-weight:600">'
        f"{escape(format_counts(snap.completed, snap.failed, snap.total))}</div>",
    ]
    details = [*stats(snap)]
    not_run = snap.total - snap.completed - snap.failed
    if snap.done and snap.total > 0 and not_run > 0:
        details.insert(0, f"{format_count(not_run)} not run")
    if cost := costs(snap):
        details.append(cost)
    if details:
        lines.append(f'<div style="{muted}">{escape(" · ".join(details))}</div>')
    if len(snap.batches) > 1:
        rows = "".join(
            f"<tr><td><code>{escape(b.id)}</code></td><td>{escape(phase_label(b.status))}</td>"
            f"<td>{escape(format_counts(b.completed, b.failed, b.total))}</td></tr>"
            for b in snap.batches
        )
        lines.append(f'<table style="font-size:smaller">{rows}</table>')
    if note := reconnect_note(snap):
        lines.append(f'<div style="color:var(--jp-warn-color1, #f57c00)">{escape(note)}</div>')
    hint = snap.extra.get("hint") if isinstance(snap.extra, dict) else None
    if isinstance(hint, str) and hint:
        lines.append(f"<div><code>{escape(hint)}</code></div>")
    if snap.message:
        lines.append(f'<div style="{muted};font-style:italic">{escape(snap.message)}</div>')
    lines.append("</div>")
    return "\n".join(lines)
