"""The builder form in real JupyterLab: live preview, submit turns it into progress, cancel."""

from __future__ import annotations

import pytest

from .conftest import open_notebook, run_all, write_notebook

pytestmark = pytest.mark.browser

SETUP = """\
import threading, time
from dw_notebook.progress.snapshot import JobSnapshot
from dw_notebook.widgets.builder import BuilderWidget
from dw_notebook.widgets.progress import ProgressWidget

rows = [{"review": "Loved it"}, {"review": "Dull and slow"}, {"review": "Fine, I guess"}]
submitted, cancelled = [], threading.Event()

def validate(form):
    messages = []
    if "{review}" not in form["template"]:
        messages.append({"level": "warning", "text": "the template does not use {review}"})
    return {"messages": messages, "estimate": f"{len(rows)} requests · est. $0.0001"}

def snap(i, phase="in_progress", done=False, model="mock"):
    return JobSnapshot("from-builder", phase, total=300, completed=i, model=model, done=done,
                       message="answers are simulated by the local mock server")

def submit(form):
    submitted.append(form)
    widget = ProgressWidget(snap(0, "validating", model=form["model"]))
    widget.on_command(lambda command: cancelled.set() if command == "cancel" else None)
    def feed():
        i = 0
        while not cancelled.wait(0.05) and i < 299:
            i += 1
            widget.update(snap(i, model=form["model"]))
        widget.update(snap(i, "cancelled" if cancelled.is_set() else "completed", True,
                           form["model"]))
    threading.Thread(target=feed, daemon=True).start()
    return widget

schema = {"type": "object", "properties": {"sentiment": {"enum": ["positive", "negative"]}}}
builder = BuilderWidget([("review", "object")], len(rows),
                        lambda template, row: template.format(**rows[row]),
                        validate=validate, models=["mock", "big-model"], windows=["24h", "1h"],
                        schema=schema, template="Sentiment of this review: {review}",
                        row_label=lambda i: f"index {i}", on_submit=submit)
builder"""


def test_builder_previews_submits_into_progress_and_cancels(jupyter, page):
    path = write_notebook(jupyter.root, "builder.ipynb", [SETUP])
    open_notebook(page, jupyter, path, "lab")
    run_all(page)
    p = page.page
    preview = p.wait_for_selector('[data-testid="dw-preview"]:has-text("Loved it")', timeout=30_000)
    assert preview.inner_text() == "Sentiment of this review: Loved it"

    p.fill('[data-testid="dw-template"]', "Label: {review}")  # preview follows the template
    p.click('[data-testid="dw-row-next"]')
    p.wait_for_selector('[data-testid="dw-preview"]:text-is("Label: Dull and slow")')
    p.fill('[data-testid="dw-template"]', "Label: {nope}")
    p.wait_for_selector('[data-testid="dw-preview-error"]:has-text("unknown column")')
    p.wait_for_selector('[data-testid="dw-validation"]:has-text("does not use {review}")')
    p.fill('[data-testid="dw-template"]', "Label: {review}")
    p.select_option('[data-testid="dw-model"]', "big-model")
    p.fill('[data-testid="dw-max-tokens"]', "16")
    p.wait_for_selector('[data-testid="dw-validation"]', state="hidden")
    page.screenshot("builder-form", '[data-testid="dw-builder"]')

    p.click('[data-testid="dw-submit"]')
    p.wait_for_selector('[data-testid="dw-progress"]', timeout=15_000)
    assert p.locator('[data-testid="dw-builder"]').count() == 0
    p.wait_for_function(
        """() => parseInt(
                   document.querySelector('[data-testid="dw-counts"]')?.textContent, 10) >= 5"""
    )
    page.screenshot("builder-became-progress")

    p.click('[data-testid="dw-cancel"]')
    page.screenshot("cancel-confirm")
    p.click('[data-testid="dw-cancel-confirm"]')
    static = p.wait_for_selector('[data-testid="dw-progress-static"]', timeout=15_000)
    assert "cancelled" in static.inner_text()
    assert "cancelled" in page.history("dw-phase")
    counts = [int(t.split()[0]) for t in page.history("dw-counts") if t[:1].isdigit()]
    assert counts[-1] < 299  # stopped early: the cancel reached the kernel
    assert page.errors == []
