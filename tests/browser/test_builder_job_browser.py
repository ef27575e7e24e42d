"""dw.builder over a real DataFrame and the embedded server: the form becomes a running job."""

from __future__ import annotations

import pytest

from dw_notebook.datasets import sample_reviews

from .conftest import open_notebook, run_all, write_notebook

pytestmark = pytest.mark.browser


def test_builder_submits_a_real_job_that_runs_to_the_end(jupyter, page, tmp_path):
    cells = [
        f"import os; os.environ['DW_NOTEBOOK_HOME'] = {str(tmp_path / 'home')!r}\n"
        "import dw_notebook as dw\n"
        "from dw_notebook.datasets import sample_reviews\n"
        "dw.local(rate=40.0)\n"
        "df = sample_reviews(120)\n"
        "dw.builder(df, template='Sentiment of this review, one word: {review}')",
    ]
    path = write_notebook(jupyter.root, "builder-job.ipynb", cells)
    open_notebook(page, jupyter, path, "lab")
    run_all(page)
    p = page.page
    first_review = sample_reviews(120)["review"].iloc[0]
    preview = p.wait_for_selector(f'[data-testid="dw-preview"]:has-text("{first_review}")',
                                  timeout=30_000)  # fmt: skip
    assert "Sentiment of this review, one word:" in preview.inner_text()
    p.wait_for_selector('[data-testid="dw-estimate"]:has-text("120 requests")', timeout=10_000)
    page.screenshot("builder-real-form")

    p.click('[data-testid="dw-submit"]')
    p.wait_for_selector('[data-testid="dw-progress"]', timeout=20_000)
    static = p.wait_for_selector('[data-testid="dw-progress-static"]', timeout=60_000)
    assert "120 / 120" in static.inner_text()
    page.screenshot("builder-real-done")
    counts = page.history("dw-counts")
    assert len({c.split()[0] for c in counts}) >= 3, counts  # the counts moved on the way
    assert page.errors == []


def test_builder_try_10_rows_first_shows_the_pilot_report_under_its_record(jupyter, page, tmp_path):
    cells = [
        f"import os; os.environ['DW_NOTEBOOK_HOME'] = {str(tmp_path / 'home')!r}\n"
        "import dw_notebook as dw\n"
        "from dw_notebook.datasets import sample_reviews\n"
        "dw.local(rate=100.0)\n"
        "df = sample_reviews(120)\n"
        "dw.builder(df, template='Sentiment of this review, one word: {review}',"
        " model='Qwen/Qwen3.5-9B')",
    ]
    path = write_notebook(jupyter.root, "builder-pilot.ipynb", cells)
    open_notebook(page, jupyter, path, "lab")
    run_all(page)
    p = page.page
    p.wait_for_selector('[data-testid="dw-estimate"]:has-text("120 requests")', timeout=30_000)
    p.check('[data-testid="dw-pilot"]')
    p.select_option('[data-testid="dw-pilot-by"]', "product")
    p.wait_for_selector('[data-testid="dw-estimate"]:has-text("10 rows first")', timeout=10_000)
    page.screenshot("builder-pilot-form", '[data-testid="dw-builder"]')

    p.click('[data-testid="dw-submit"]')
    p.locator('[data-testid="dw-proceed"]').wait_for(state="visible", timeout=60_000)
    record = p.inner_text('[data-testid="dw-builder-summary"]')
    assert "10 rows first, spread over product" in record and "pilot=10" in record, record
    assert p.locator('[data-testid="dw-pilot-row"]').count() == 10
    page.screenshot("builder-pilot-report")
    assert page.errors == []
