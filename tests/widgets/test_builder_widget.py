"""BuilderWidget: form traits, preview round trip, validation, submit and what replaces it."""

from __future__ import annotations

from dw_notebook.progress.snapshot import JobSnapshot
from dw_notebook.widgets.builder import EMPTY_TEMPLATE, BuilderWidget
from dw_notebook.widgets.progress import ProgressWidget

from .conftest import browser_message

ROWS = [{"review": "Loved it", "stars": 5}, {"review": "Dull <b>and</b> slow", "stars": 1}]


def render(template: str, row: int) -> str:
    return template.format(**ROWS[row])


def validate(form: dict) -> dict:
    messages = []
    if form["max_tokens"] is not None and form["max_tokens"] > 1000:
        messages.append({"level": "error", "text": "max tokens above 1000"})
    if "{stars}" not in form["template"]:
        messages.append({"level": "warning", "text": "stars unused"})
    return {"messages": messages, "estimate": f"{len(ROWS)} requests, est. $0.01"}


def make(**kw) -> BuilderWidget:
    kw.setdefault("models", ["mock", "big-model"])
    kw.setdefault("windows", ["24h", "1h"])
    return BuilderWidget(
        [("review", "object"), ("stars", "int64")], len(ROWS), render, validate=validate, **kw
    )


def test_choices_and_columns_are_synced_with_sensible_defaults():
    widget = make(schema={"type": "object"})
    state = widget.get_state()
    assert state["columns"] == [
        {"name": "review", "dtype": "object"},
        {"name": "stars", "dtype": "int64"},
    ]
    assert (state["model"], state["window"], state["n_rows"]) == ("mock", "24h", 2)
    assert state["schema"] == {"type": "object"}


def test_an_empty_template_blocks_submitting():
    widget = make()
    # a fresh form says what to do without an error, and the preview blames nothing
    assert widget.messages[0] == {"level": "info", "text": EMPTY_TEMPLATE}
    assert not any(m["level"] == "error" for m in widget.messages)
    assert widget.preview("", 0)["error"] == ""
    assert widget.submit({}) is None


def test_preview_is_a_round_trip_that_answers_the_request_id():
    widget = make(row_label=lambda i: f"row-{i}")
    browser_message(widget, {"type": "preview", "id": 7, "template": "{review}!", "row": 1})
    (reply, buffers), *_ = widget.comm.customs()
    assert reply == {
        "type": "preview",
        "id": 7,
        "row": 1,
        "label": "row-1",
        "text": "Dull <b>and</b> slow!",
        "error": "",
    }


def test_preview_reports_an_unknown_column_and_clamps_the_row():
    widget = make()
    browser_message(widget, {"type": "preview", "id": 1, "template": "{nope}", "row": 99})
    reply = widget.comm.customs()[-1][0]
    assert reply["row"] == 1
    assert reply["error"] == "unknown column 'nope' in the template"


def test_form_changes_from_the_page_rerun_validation():
    widget = make(template="{review}")
    assert widget.messages == [{"level": "warning", "text": "stars unused"}]
    assert widget.estimate == "2 requests, est. $0.01"
    widget.set_state({"template": "{review} {stars}", "max_tokens": 5000})  # as the page does
    assert widget.messages == [{"level": "error", "text": "max tokens above 1000"}]


def test_submit_passes_the_form_to_the_callback():
    got = []
    widget = make(on_submit=got.append)
    form = {"template": "{review} ({stars})", "model": "big-model", "window": "1h",
            "max_tokens": "64", "row": 0}  # fmt: skip
    browser_message(widget, {"type": "submit", "form": form})
    assert got == [
        {"template": "{review} ({stars})", "model": "big-model", "window": "1h", "max_tokens": 64,
         "pilot": None, "pilot_by": ""}
    ]  # fmt: skip
    assert widget.submit_state == "submitted"


def test_try_10_rows_first_is_in_the_form_spread_over_a_known_column_only():
    got = []
    widget = make(on_submit=got.append)
    assert (widget.pilot, widget.pilot_by) == (False, "")
    form = {"template": "{review} ({stars})", "pilot": True, "pilot_by": "stars"}
    browser_message(widget, {"type": "submit", "form": form})
    assert (got[-1]["pilot"], got[-1]["pilot_by"]) == (10, "stars")
    assert "pilot" in widget.summary().html and "10 rows first, spread over stars" in (
        widget.summary().html)  # fmt: skip

    widget = make(on_submit=got.append)
    browser_message(widget, {"type": "submit", "form": {**form, "pilot_by": "no such column"}})
    assert (got[-1]["pilot"], got[-1]["pilot_by"]) == (10, "")
    widget = make(on_submit=got.append)
    browser_message(widget, {"type": "submit", "form": {**form, "pilot": "yes"}})  # not a bool
    assert got[-1]["pilot"] is None


def test_submit_with_validation_errors_does_not_call_back():
    got = []
    widget = make(on_submit=got.append)
    browser_message(widget, {"type": "submit", "form": {"template": "{stars}", "max_tokens": 5000}})
    assert got == []
    assert widget.submit_state == "idle"
    assert {"level": "error", "text": "max tokens above 1000"} in widget.messages


def test_a_failing_submit_is_shown_and_the_form_stays_usable():
    def boom(form):
        raise RuntimeError("quota exceeded")

    widget = make(on_submit=boom)
    assert widget.submit({"template": "{review} {stars}"}) is None
    assert widget.messages[-1] == {"level": "error", "text": "submit failed: quota exceeded"}
    assert widget.submit_state == "idle"


def test_submit_leaves_a_record_of_the_form_above_the_progress_widget(shell):
    from IPython.display import display

    progress = ProgressWidget(JobSnapshot("reviews", "validating", total=2))

    class FakeJob:  # what the job layer returns: anything with widget()
        def widget(self):
            return progress

    widget = make(template="{review} {stars}", on_submit=lambda form: FakeJob(),
                  code_for=lambda form: f"job = dw.submit(df, {form['template']!r})")  # fmt: skip
    display(widget)
    slot = shell.published[0]["transient"]["display_id"]
    assert shell.published[0]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] == (
        widget.model_id
    )
    widget.submit({})
    replaced = shell.published[-1]
    assert replaced["update"] and replaced["transient"]["display_id"] == slot
    view = replaced["data"]["application/vnd.jupyter.widget-view+json"]
    box = widget_by_id(view["model_id"])
    assert [type(c).__name__ for c in box.children] == ["HTML", "ProgressWidget"]
    assert box.children[1] is progress
    summary = box.children[0].value
    assert "Submitted with dw.builder" in summary and "{review} {stars}" in summary
    assert "job = dw.submit(df, &#x27;{review} {stars}&#x27;)" in summary
    assert "dw-builder-summary" in replaced["data"]["text/html"]  # saved without widget state
    # the progress widget now owns the slot: its end state replaces it again, record kept
    progress.update(JobSnapshot("reviews", "completed", total=2, completed=2, done=True))
    final = shell.published[-1]
    assert final["transient"]["display_id"] == slot
    assert "application/vnd.jupyter.widget-view+json" not in final["data"]
    assert "Submitted with dw.builder" in final["data"]["text/html"]
    assert "job = dw.submit(df" in final["data"]["text/plain"]


def widget_by_id(model_id):
    from ipywidgets.widgets.widget import _instances  # Widget.widgets is deprecated

    return _instances[model_id]


def test_repr_summarises_the_form():
    assert repr(make(template="{review}")) == (
        "<dw builder: 2 rows [review, stars], model mock, template '{review}'>"
    )


def test_the_form_carries_a_static_summary_for_a_saved_notebook(shell):
    from IPython.display import display

    widget = make(template="Rate <b>{review}</b> for $5", model="mock",
                  code_for=lambda form: f"job = dw.submit(df, {form['template']!r})")  # fmt: skip
    display(widget)
    data = shell.published[0]["data"]
    assert "application/vnd.jupyter.widget-view+json" in data
    html = data["text/html"]
    assert "A dw.builder form, not submitted" in html and 'data-testid="dw-builder-' in html
    assert "Rate &lt;b&gt;{review}&lt;/b&gt; for &#36;5" in html and "<b>{review}" not in html
    assert "job = dw.submit(df" in html
    assert data["text/plain"].startswith("A dw.builder form, not submitted")
