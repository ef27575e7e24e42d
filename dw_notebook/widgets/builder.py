"""The batch builder form: pick columns, write a template, preview a row, choose a model, submit.

The widget knows nothing about DataFrames or the Batch API: it takes column descriptions and
plain callables, so the job layer wires it (see :class:`BuilderWidget`). Form fields are synced
traits (nothing secret goes in them); the row preview is a message round trip, rendered here in
the kernel by ``render_preview``; validation messages and the cost estimate come from
``validate`` after every change.

>>> form = BuilderWidget(                                       # doctest: +SKIP
...     columns=[("review", "object")], n_rows=len(df),
...     render_preview=lambda template, row: template.format(**df.iloc[row]),
...     models=["mock"],
...     on_submit=lambda form: dw.submit(df, form["template"], model=form["model"]),
... )
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import anywidget
import traitlets

from ..markup import no_math
from . import _assets, _display
from .progress import Header
from .record import builder_record

log = logging.getLogger(__name__)

Form = dict[str, Any]
# {"messages": [{"level": "error" | "warning" | "info", "text": str}], "estimate": str}
Validation = Mapping[str, Any]
FORM_FIELDS = ("template", "model", "window", "max_tokens", "pilot", "pilot_by")
PILOT_ROWS = 10  # "Try 10 rows first": the pilot the form asks for
EMPTY_TEMPLATE = "write a prompt template; click a column to insert it"
FORM_TITLE = "A dw.builder form, not submitted (as first shown)"  # its static record


def _columns(columns: Iterable[Any]) -> list[dict[str, str]]:
    out = []
    for col in columns:
        if isinstance(col, Mapping):
            out.append({"name": str(col["name"]), "dtype": str(col.get("dtype", ""))})
        elif isinstance(col, tuple | list):
            out.append({"name": str(col[0]), "dtype": str(col[1]) if len(col) > 1 else ""})
        else:
            out.append({"name": str(col), "dtype": ""})
    return out


class BuilderWidget(anywidget.AnyWidget):
    """A form that builds a batch; ``on_submit`` callbacks get the form as a dict (``template``,
    ``model``, ``window``, ``max_tokens``, ``pilot``: ``PILOT_ROWS`` to try that many rows
    first or None, ``pilot_by``: the column to spread them over, "" for the whole frame).

    ``render_preview(template, row) -> str`` renders row number ``row`` (0-based position) and
    may raise ``KeyError``/``ValueError`` to show an error instead; ``row_label(row) -> str``
    names the row (e.g. its index label). ``validate(form) -> {"messages": [...], "estimate":
    str}`` runs after each change and before submit; a message with level ``"error"`` blocks
    submitting. The first callback result that is not None (a job, a widget) replaces the form
    wherever it is displayed.
    """

    _esm = _assets.esm("builder")
    _css = _assets.css("builder")

    columns = traitlets.List(traitlets.Dict()).tag(sync=True)
    n_rows = traitlets.Int(0).tag(sync=True)
    models = traitlets.List(traitlets.Unicode()).tag(sync=True)
    windows = traitlets.List(traitlets.Unicode()).tag(sync=True)
    schema = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)
    template = traitlets.Unicode("").tag(sync=True)
    model = traitlets.Unicode("").tag(sync=True)
    window = traitlets.Unicode("").tag(sync=True)
    max_tokens = traitlets.Int(None, allow_none=True).tag(sync=True)
    pilot = traitlets.Bool(False).tag(sync=True)  # try PILOT_ROWS rows first
    pilot_by = traitlets.Unicode("").tag(sync=True)  # a column to spread the pilot over; "": rows
    row = traitlets.Int(0).tag(sync=True)
    messages = traitlets.List(traitlets.Dict()).tag(sync=True)
    estimate = traitlets.Unicode("").tag(sync=True)
    submit_state = traitlets.Unicode("idle").tag(sync=True)  # idle | submitting | submitted

    def __init__(
        self,
        columns: Iterable[Any],
        n_rows: int,
        render_preview: Callable[[str, int], str],
        *,
        validate: Callable[[Form], Validation] | None = None,
        row_label: Callable[[int], str] | None = None,
        models: Sequence[str] = (),
        windows: Sequence[str] = ("24h",),
        schema: Mapping[str, Any] | None = None,
        template: str = "",
        model: str | None = None,
        window: str | None = None,
        max_tokens: int | None = None,
        on_submit: Callable[[Form], Any] | None = None,
        code_for: Callable[[Form], str] | None = None,
        **kwargs: Any,
    ) -> None:
        models, windows = list(models), list(windows)
        super().__init__(
            columns=_columns(columns),
            n_rows=n_rows,
            models=models,
            windows=windows,
            schema=dict(schema) if schema else None,
            template=template,
            model=model or (models[0] if models else ""),
            window=window or (windows[0] if windows else ""),
            max_tokens=max_tokens,
            **kwargs,
        )
        self._render_preview = render_preview
        self._validate = validate
        self._row_label = row_label
        self._submit_handlers: list[Callable[[Form], Any]] = []
        self._code_for = code_for
        self._slots = _display.Slots()
        if on_submit is not None:
            self.on_submit(on_submit)
        self.observe(self._on_form_change, names=list(FORM_FIELDS))
        self.on_msg(self._on_frontend_msg)
        self.revalidate()

    @property
    def form(self) -> Form:
        """The current form values."""
        form = {name: getattr(self, name) for name in FORM_FIELDS}
        form["pilot"] = PILOT_ROWS if self.pilot else None
        return form

    def on_submit(self, callback: Callable[[Form], Any]) -> None:
        """Call ``callback(form)`` when the user submits a form that passes validation."""
        self._submit_handlers.append(callback)

    # -- validation and preview ------------------------------------------------------------------

    def revalidate(self) -> bool:
        """Run ``validate`` on the form, publish its messages and estimate; True if no errors."""
        messages: list[dict[str, str]] = []
        estimate = ""
        if not self.template.strip():  # a fresh form: a hint, not an error (but no submit)
            messages.append({"level": "info", "text": EMPTY_TEMPLATE})
        if self._validate is not None:
            try:
                result = self._validate(self.form) or {}
                messages.extend(
                    {"level": str(m.get("level", "info")), "text": str(m.get("text", ""))}
                    for m in result.get("messages", [])
                )
                estimate = str(result.get("estimate", "") or "")
            except Exception as exc:  # a broken validator must not break the form
                log.exception("validate failed")
                messages.append({"level": "error", "text": f"could not validate: {exc}"})
        with self.hold_sync():
            self.messages = messages
            self.estimate = estimate
        return bool(self.template.strip()) and not any(m["level"] == "error" for m in messages)

    def _on_form_change(self, _change: Any) -> None:
        if self.submit_state != "submitting":
            self.revalidate()

    def preview(self, template: str, row: int) -> dict[str, Any]:
        """The preview of ``row`` for ``template``: ``{"text", "label", "error"}``."""
        row = min(max(0, int(row)), max(0, self.n_rows - 1))
        label = ""
        if self._row_label is not None:
            try:
                label = str(self._row_label(row))
            except Exception:  # the label is decoration
                label = ""
        if not template.strip():  # nothing to preview yet; the form says what to do
            return {"row": row, "label": label, "text": "", "error": ""}
        try:
            return {"row": row, "label": label, "text": str(self._render_preview(template, row)),
                    "error": ""}  # fmt: skip
        except KeyError as exc:
            error = f"unknown column {exc.args[0]!r} in the template" if exc.args else str(exc)
        except Exception as exc:
            error = str(exc) or type(exc).__name__
        return {"row": row, "label": label, "text": "", "error": error}

    # -- messages from the page -------------------------------------------------------------------

    def _on_frontend_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "preview":
            reply = self.preview(str(content.get("template", "")), _int(content.get("row"), 0))
            self.send({"type": "preview", "id": content.get("id"), **reply})
        elif kind == "submit":
            self.submit(content.get("form") if isinstance(content.get("form"), dict) else {})

    def submit(self, form: Mapping[str, Any] | None = None) -> Any:
        """Apply ``form`` (values from the page), validate and call the submit callbacks.

        Returns the first callback result that is not None, which also replaces the form
        wherever it is displayed; returns None when validation or a callback failed.
        """
        form = dict(form or {})
        with self.hold_sync():
            self.submit_state = "submitting"
            for name in ("template", "model", "window"):
                if name in form:
                    setattr(self, name, str(form[name] or ""))
            if "max_tokens" in form:
                tokens = _int(form["max_tokens"], None)
                self.max_tokens = tokens if tokens is not None and tokens > 0 else None
            if "pilot" in form:
                self.pilot = form["pilot"] is True
            if "pilot_by" in form:
                by = str(form["pilot_by"] or "")
                self.pilot_by = by if by in {c["name"] for c in self.columns} else ""
        if not self.revalidate():
            self.submit_state = "idle"
            return None
        result = None
        try:
            for handler in list(self._submit_handlers):
                value = handler(self.form)
                if result is None:
                    result = value
        except Exception as exc:
            log.exception("submit failed")
            with self.hold_sync():
                failure = {"level": "error", "text": f"submit failed: {exc}"}
                self.messages = [*self.messages, failure]
                self.submit_state = "idle"
            return None
        self.submit_state = "submitted"
        if result is not None:
            header = self.summary()
            for display_id in self._slots.take():
                _display.replace(display_id, result, header=header)
        return result

    def summary(self) -> Header:
        """The read-only record of what was submitted, and the ``dw.submit`` code that does
        the same, kept above the job's progress where the form was."""
        code = self._code_for(self.form) if self._code_for else ""
        return builder_record(self.form, self.n_rows, code)

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict, dict] | None:
        """The form, plus a static summary of it as first shown (where the form cannot be
        rendered: a saved notebook without the kernel); submitting replaces both."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        code = self._code_for(self.form) if self._code_for and self.template.strip() else ""
        record = builder_record(self.form, self.n_rows, code, title=FORM_TITLE)
        return {**data, "text/html": no_math(record.html), "text/plain": record.text}, metadata

    def _ipython_display_(self) -> None:
        data, metadata = self._repr_mimebundle_()
        self._slots.add(_display.show(data, metadata))

    def __repr__(self) -> str:
        cols = ", ".join(c["name"] for c in self.columns[:6])
        more = "…" if len(self.columns) > 6 else ""
        return (
            f"<dw builder: {self.n_rows:,} rows [{cols}{more}], model {self.model or '?'}, "
            f"template {self.template[:40]!r}{'…' if len(self.template) > 40 else ''}>"
        )


def _int(value: Any, default: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
