"""Every widget in real JupyterLab with hostile text: nothing runs, everything reads as text.

Also the place to look at them: screenshots in the light and dark themes.
"""

from __future__ import annotations

import pytest

from .conftest import open_notebook, run_all, use_dark_theme, write_notebook

pytestmark = pytest.mark.browser

EVIL = '<img src=x onerror="window.__dwPwned=1">'

CELLS = [
    f"""\
import time
import pandas as pd
from IPython.display import HTML
from dw_notebook.progress.snapshot import BatchSnapshot, JobSnapshot
from dw_notebook.widgets.jobs import JobsWidget
from dw_notebook.widgets.progress import ProgressWidget
from dw_notebook.widgets.review import ReviewWidget
from dw_notebook.widgets.static import snapshot_html

EVIL = {EVIL!r}
now = time.time()
batches = (BatchSnapshot("batch_01HZX3", "completed", 200, 198, 2),
           BatchSnapshot("batch_01HZX4", "in_progress", 200, 120, 5),
           BatchSnapshot(EVIL, "validating", 200, 0, 0))
progress = ProgressWidget(JobSnapshot(
    "reviews " + EVIL, "in_progress", total=600, completed=318, failed=7, batches=batches,
    model="mock", elapsed_s=95, throughput=3.4, eta_s=81, window_left_s=86000,
    estimated_cost=0.042, poll_error="ConnectError", last_update_age_s=40, message=EVIL))
progress""",
    """\
JobsWidget([
    {"id": "batch_01HZX4", "name": "reviews", "status": "in_progress", "total": 200,
     "completed": 120, "failed": 5, "created_at": now - 95, "model": "mock", "source": "local"},
    {"id": "batch_01HZX3", "name": "reviews", "status": "completed", "total": 200,
     "completed": 198, "failed": 2, "created_at": now - 400, "model": "mock", "source": "local"},
    {"id": "batch_0OLD", "name": EVIL, "status": "expired", "total": 50, "completed": 20,
     "created_at": now - 5 * 86400, "model": EVIL, "source": "server"},
], on_attach=lambda batch_id: ProgressWidget(
    JobSnapshot("attached " + batch_id, "in_progress", total=200, completed=120, failed=5)))""",
    """\
labels = ["positive", "negative", "neutral", "positive"]
frame = pd.DataFrame({
    "review": [f"Review number {i}: the product was fine" for i in range(60)],
    "content": [labels[i % 4] for i in range(60)],
    "status": ["ok"] * 60, "error": [None] * 60})
frame.loc[1, "content"] = EVIL
frame.loc[5, ["status", "error", "content"]] = ["failed", "HTTP 500: " + EVIL, None]
frame.loc[9, ["status", "content"]] = ["not_run", None]
ReviewWidget(frame, prompt="review", page_size=6, label_columns=["content"])""",
    """\
HTML(snapshot_html(JobSnapshot(EVIL, "completed", total=10, completed=9, failed=1, done=True,
                               message=EVIL, extra={"hint": EVIL})))""",
]


def test_hostile_text_renders_as_text_in_every_widget(jupyter, page):
    path = write_notebook(jupyter.root, "gallery.ipynb", CELLS)
    open_notebook(page, jupyter, path, "lab")
    run_all(page)
    p = page.page
    for testid in ("dw-progress", "dw-jobs", "dw-review", "dw-progress-static"):
        p.wait_for_selector(f'[data-testid="{testid}"]', timeout=30_000)
    rows = p.wait_for_selector('[data-testid="dw-page-row"]', timeout=30_000)
    assert rows is not None
    assert EVIL in p.inner_text('[data-testid="dw-page-table"]')  # the answer, as text
    assert EVIL in p.inner_text('[data-testid="dw-message"]')
    assert EVIL in p.inner_text('[data-testid="dw-jobs-table"]')
    assert EVIL in p.inner_text('[data-testid="dw-progress-static"]')
    assert p.locator('img[src="x"]').count() == 0
    assert p.evaluate("() => window.__dwPwned") is None

    # real round trips: filter samples by a label, then the failed rows with their errors
    p.click('[data-testid="dw-dist-row"][data-label="negative"]')
    p.wait_for_selector('[data-testid="dw-review-filter"]:has-text("content = negative")')
    p.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="dw-page-row"]')]
                 .every((r) => r.textContent.includes('negative'))"""
    )
    p.click('[data-testid="dw-tab-failed"]')
    p.wait_for_selector('[data-testid="dw-page-row"]:has-text("HTTP 500")')
    assert p.locator('img[src="x"]').count() == 0
    assert p.evaluate("() => window.__dwPwned") is None
    assert "reconnecting, last update" in p.inner_text('[data-testid="dw-reconnect"]')

    # attach shows the batch's progress right below the dashboard
    p.click('[data-testid="dw-job-row"][data-id="batch_01HZX4"] [data-testid="dw-job-attach"]')
    attached = p.wait_for_selector('[data-testid="dw-progress"]:has-text("attached batch_01HZX4")')
    assert "120 / 200 done, 5 failed" in attached.inner_text()

    widgets = ("dw-progress", "dw-jobs", "dw-review", "dw-progress-static")
    for theme in ("light", "dark"):
        if theme == "dark":
            use_dark_theme(page)
        page.screenshot(f"gallery-{theme}")
        for testid in widgets:
            page.screenshot(f"{testid}-{theme}", f'[data-testid="{testid}"]')
    assert page.errors == []
