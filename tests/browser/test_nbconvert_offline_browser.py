"""A notebook executed by nbclient (a finished job's review, the jobs dashboard, a job still
running at the end) and exported to HTML reads with no network: every live output carries its
static record as text/html and text/plain beside the widget view, and the export the docs give
(docs/front-ends.md) shows those records, with every request off the page blocked.

nbclient saves the widgets' state, so plain ``--to html`` picks the widget view, which only the
widget manager from a CDN can draw; clearing the notebook metadata leaves the records.
"""

from __future__ import annotations

import re
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from .conftest import REPO

pytestmark = pytest.mark.browser

SHOTS = REPO / "test-output" / "screenshots"
VIEW = "application/vnd.jupyter.widget-view+json"
STATE = "application/vnd.jupyter.widget-state+json"
EXPORT = ["--to", "html", "--ClearMetadataPreprocessor.enabled=True",
          "--ClearMetadataPreprocessor.clear_cell_metadata=False"]  # fmt: skip


def _cells(home: str) -> list[str]:
    return [
        f"import os; os.environ['DW_NOTEBOOK_HOME'] = {home!r}\n"
        "import dw_notebook as dw\n"
        "from dw_notebook.datasets import sample_reviews\n"
        "srv = dw.local(rate=200.0)\n"
        "df = sample_reviews(30)",
        "done = dw.submit(df, 'Sentiment, one word: {review}', model='mock', name='finished')\n"
        "out = done.join()\n"
        "done.review()",
        "dw.jobs(auto_refresh=None)",
        "srv.runner.rate = 0.5  # still running when the run ends\n"
        "running = dw.submit(df, 'Sentiment of: {review}', model='mock', name='still-running')\n"
        "running",
        "import time; time.sleep(4)  # meanwhile its output is refreshed by display id",
    ]


def test_an_executed_notebook_exported_to_html_shows_its_records_offline(page, tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(c) for c in _cells(str(tmp_path / "home"))]
    )
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    assert nb.metadata["widgets"][STATE]["state"]  # what makes plain --to html pick the views
    live = [o["data"] for c in nb.cells for o in c.outputs if VIEW in o.get("data", {})]
    assert len(live) == 3  # the review, the dashboard, the running job
    for data in live:  # each with its record beside the view
        assert 'data-testid="dw-' in data["text/html"] and data["text/plain"]
    path = tmp_path / "run.ipynb"
    nbformat.write(nb, path)

    p = page.page
    blocked: list[str] = []

    def offline(route) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    p.route("**/*", offline)
    for template in ("lab", "classic"):
        html = tmp_path / f"run-{template}.html"
        subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", *EXPORT,
                        f"--template={template}", f"--output={html.stem}", str(path)],
                       check=True, capture_output=True)  # fmt: skip
        blocked.clear()
        p.goto(html.as_uri())
        p.wait_for_load_state("load")
        running = p.locator('[data-testid="dw-progress-static"]', has_text="still-running")
        counts = running.locator('[data-testid="dw-counts"]')
        assert counts.is_visible(), template
        assert re.search(r"\d+ / 30 done", counts.inner_text()), counts.inner_text()
        assert running.locator('[data-testid="dw-as-of"]').is_visible(), template
        review = p.locator('[data-testid="dw-review-static"]')
        assert review.is_visible() and "Results" in review.inner_text(), template
        jobs = p.locator('[data-testid="dw-jobs-static"]')
        assert jobs.is_visible() and "finished" in jobs.inner_text(), template
        p.screenshot(path=str(SHOTS / f"nbconvert-offline-{template}.png"), full_page=True)
        assert blocked, template  # the page asked for scripts from the network and got none
