"""A readable view of the first requests of a build: what each row asks, and what they share.

The system prompt, ``response_format`` and ``tools`` are the same in every request of a build,
and usually far longer than a row's own prompt; shown once above the rows, the rows show what
differs. The preview is still the list of request dicts as they will be sent.

>>> built.preview(2)            # doctest: +SKIP  (a table in a notebook, lines in a terminal)
>>> built.preview(2)[0]["body"] # doctest: +SKIP  (the raw request, as sent)
"""

from __future__ import annotations

from typing import Any

import orjson

from dw_notebook.markup import escape, no_math

_CONTENT = ("messages", "input", "prompt", "model")  # shown as the prompt or in the header
_SHARED = ("response_format", "tools")  # shown once when every request has the same
_CUT_TEXT, _CUT_HTML = 200, 4000


def cut(text: str, n: int) -> str:
    return text if len(text) <= n else f"{text[: n - 1]}… ({len(text) - n + 1:,} more characters)"


def _json(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def prompt_text(body: dict, skip_system: bool = False) -> str:
    """``[role] content`` per message (without a leading system message when ``skip_system``),
    or the input / prompt of the other endpoints."""
    if "messages" in body:
        messages = body["messages"]
        if skip_system and messages and messages[0].get("role") == "system":
            messages = messages[1:]
        return "\n".join(f"[{m.get('role')}] {_json(m.get('content'))}" for m in messages)
    return _json(body.get("input", body.get("prompt", "")))


def system_text(body: dict) -> str:
    """The system message of a chat request ('' when there is none)."""
    messages = body.get("messages") or []
    if messages and messages[0].get("role") == "system":
        return _json(messages[0].get("content"))
    return ""


def _schema_line(response_format: Any) -> str:
    """'Review: sentiment (positive|negative|neutral), stars (integer)'."""
    if not isinstance(response_format, dict):
        return _json(response_format)
    spec = response_format.get("json_schema")
    if not isinstance(spec, dict):
        return response_format.get("type") or _json(response_format)
    props = (spec.get("schema") or {}).get("properties") or {}
    fields = []
    for name, prop in props.items():
        prop = prop if isinstance(prop, dict) else {}
        kind = "|".join(map(str, prop["enum"])) if "enum" in prop else prop.get("type", "any")
        fields.append(f"{name} ({kind})")
    return f"{spec.get('name') or 'schema'}: {', '.join(fields) or 'no fields'}"


def _tools_line(tools: Any) -> str:
    names = [
        (t.get("function") or {}).get("name") or t.get("type") or "?"
        for t in tools if isinstance(t, dict)
    ]  # fmt: skip
    return ", ".join(names) or _json(tools)


def _param_text(params: dict[str, Any]) -> str:
    return " · ".join(f"{k}={cut(_json(v), 80)}" for k, v in params.items())


class RequestPreview(list):
    """The first requests of a build as they will be sent (a list of request dicts), shown as
    a table in a notebook and as lines in a terminal. ``.requests`` is a plain list of them."""

    def __init__(self, requests: list[dict], *, total: int, endpoint: str, model: str) -> None:
        super().__init__(requests)
        self.total = total
        self.endpoint = endpoint
        self.model = model

    @property
    def requests(self) -> list[dict]:
        return list(self)

    def _layout(self) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
        """(what every request shares, one (custom_id, own prompt, parameters) per request)."""
        bodies = [r.get("body") or {} for r in self]
        shared: dict[str, Any] = {}
        systems = [system_text(b) for b in bodies]
        if systems and systems[0] and len(set(systems)) == 1:
            shared["system"] = systems[0]
        for key in _SHARED:
            values = [b.get(key) for b in bodies]
            if values and values[0] is not None and all(v == values[0] for v in values):
                shared[key] = values[0]
        rows = []
        for request, body in zip(self, bodies, strict=True):
            params = {k: v for k, v in body.items() if k not in _CONTENT and k not in shared}
            own = prompt_text(body, skip_system="system" in shared)
            rows.append((str(request.get("custom_id", "")), own, params))
        return shared, rows

    def _title(self) -> str:
        return (
            f"{len(self):,} of {self.total:,} request{'' if self.total == 1 else 's'} to "
            f"{self.endpoint} · model {self.model}"
        )

    def lines(self) -> list[str]:
        """The text lines (shared parts once, then one line per request)."""
        shared, rows = self._layout()
        out = []
        if "system" in shared:
            out.append(f"system (every request): {cut(shared['system'], 300)!r}")
        if "response_format" in shared:
            line = _schema_line(shared["response_format"])
            out.append(f"response format (every request): {cut(line, 300)}")
        if "tools" in shared:
            out.append(f"tools (every request): {cut(_tools_line(shared['tools']), 300)}")
        for custom_id, own, params in rows:
            extra = f"  {_param_text(params)}" if params else ""
            out.append(f"{custom_id}: {cut(own, _CUT_TEXT)!r}{extra}")
        return out

    def __repr__(self) -> str:
        return "\n".join([f"Preview: {self._title()}", *(f"  {line}" for line in self.lines())])

    def _repr_html_(self) -> str:
        shared, rows = self._layout()
        muted = "color:var(--jp-ui-font-color2)"  # unset outside Jupyter: inherits
        pre = (
            "margin:2px 0;white-space:pre-wrap;overflow-wrap:anywhere;word-break:normal;"
            "font-family:var(--jp-code-font-family, monospace);font-size:var(--jp-code-font-size, "
            "12px);background:transparent;color:inherit;padding:0"
        )
        cell = (
            "text-align:left;vertical-align:top;padding:3px 6px;white-space:normal;"
            "overflow-wrap:anywhere;word-break:normal;min-width:0"
        )
        parts = [f'<div><strong>Preview</strong> <span style="{muted}">{escape(self._title())}'
                 "</span></div>"]  # fmt: skip
        if "system" in shared:
            parts.append(
                f'<div><span style="{muted}">system prompt, the same for every request</span>'
                f'<pre data-testid="dw-request-preview-system" style="{pre}">'
                f"{escape(cut(shared['system'], _CUT_HTML))}</pre></div>"
            )
        if "response_format" in shared:
            schema = orjson.dumps(shared["response_format"], option=orjson.OPT_INDENT_2).decode()
            parts.append(
                f'<div data-testid="dw-request-preview-schema"><span style="{muted}">'
                "response format, the same for every request:</span> "
                f"{escape(_schema_line(shared['response_format']))}"
                f'<details><summary style="{muted}">the JSON schema</summary>'
                f'<pre style="{pre}">{escape(schema)}</pre></details></div>'
            )
        if "tools" in shared:
            parts.append(
                f'<div><span style="{muted}">tools, the same for every request:</span> '
                f"{escape(_tools_line(shared['tools']))}</div>"
            )
        body = "".join(
            f'<tr><td style="{cell}"><code style="white-space:normal">{escape(custom_id)}</code>'
            f"</td>"
            f'<td style="{cell}"><pre style="{pre}">{escape(cut(own, _CUT_HTML))}</pre></td>'
            f'<td style="{cell}">{escape(_param_text(params)) or "–"}</td></tr>'
            for custom_id, own, params in rows
        )
        # fixed layout: the columns share the output's width and wrap, whatever its width
        parts.append(
            f'<table data-testid="dw-request-preview-table" style="border-collapse:collapse;'
            f'table-layout:fixed;width:100%"><colgroup><col style="width:22%">'
            f'<col style="width:56%"><col style="width:22%"></colgroup><thead><tr>'
            f'<th style="{cell}">custom_id</th><th style="{cell}">prompt</th>'
            f'<th style="{cell}">parameters</th></tr></thead><tbody>{body}</tbody></table>'
        )
        return no_math(
            '<div data-testid="dw-request-preview" style="display:flex;flex-direction:column;'
            f'gap:6px;max-width:72rem;min-width:0">{"".join(parts)}</div>'
        )
