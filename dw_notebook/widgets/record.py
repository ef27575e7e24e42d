"""The record a submitted builder leaves: what was sent, and the code that sends it again."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .progress import Header
from .static import MUTED, card, escape, shade

_PRE = (
    "margin:2px 0;padding:6px 8px;white-space:pre-wrap;overflow-wrap:anywhere;"
    f"background:var(--jp-layout-color2, {shade(0.12)});color:var(--jp-ui-font-color1, #1f1f1f);"
    "border-radius:4px;font-family:var(--jp-code-font-family, monospace);"
    "font-size:var(--jp-code-font-size, 12px)"
)


def builder_record(
    form: Mapping[str, Any], n_rows: int, code: str, title: str = "Submitted with dw.builder"
) -> Header:
    """Read-only summary of a builder submission (rows, model, window, max tokens, template)
    and the equivalent ``dw.submit(...)`` code, as HTML and text."""
    tokens = form.get("max_tokens")
    facts = [
        ("rows", f"{n_rows:,}"),
        ("model", form.get("model") or "?"),
        ("window", form.get("window") or "?"),
        ("max tokens", str(tokens) if tokens else "not set"),
    ]
    if form.get("pilot"):
        over = f"spread over {form['pilot_by']}" if form.get("pilot_by") else "spread over the rows"
        facts.append(("pilot", f"{form['pilot']} rows first, {over}"))
    chips = "".join(
        f'<span><span style="{MUTED}">{escape(k)}</span> {escape(v)}</span>' for k, v in facts
    )
    body = [
        f'<div style="font-weight:600">{escape(title)}</div>',
        f'<div style="display:flex;flex-wrap:wrap;gap:4px 16px">{chips}</div>',
        f'<div style="{MUTED}">prompt template</div>',
        f'<pre data-testid="dw-builder-template" style="{_PRE}">'
        f"{escape(form.get('template', ''))}</pre>",
    ]
    if code:
        body += [
            f'<div style="{MUTED}">the same from code</div>',
            f'<pre data-testid="dw-builder-code" style="{_PRE}">{escape(code)}</pre>',
        ]
    text = (
        f"{title}: {n_rows:,} rows, model {form.get('model')!r}, window "
        f"{form.get('window')!r}, max tokens {tokens}, template {form.get('template')!r}"
    )
    if form.get("pilot"):
        by = f" by {form['pilot_by']!r}" if form.get("pilot_by") else ""
        text += f", pilot {form['pilot']}{by}"
    if code:
        text += f"\nSame as: {code}"
    html = card("".join(body), testid="dw-builder-summary") + '<div style="height:6px"></div>'
    return Header(html, text)
