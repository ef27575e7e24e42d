"""A pilot in JupyterLab: its report shows in the job's widget when its batch ends, Proceed
sends the rest, and the same widget then follows the whole job to its end. The report fits
400, 600 and 1400 px outputs, light and dark (screenshots in ``test-output/screenshots/``)."""

from __future__ import annotations

import pytest

from .conftest import open_notebook, run_all, write_notebook
from .test_records_browser import OVERFLOW_JS, SHOTS, _set_theme

pytestmark = pytest.mark.browser

WIDTHS = (1400, 600, 400)


def cells(home: str) -> list[str]:
    return [
        f"import os; os.environ['DW_NOTEBOOK_HOME'] = {home!r}\n"
        "import dw_notebook as dw\n"
        "from dw_notebook.datasets import sample_reviews\n"
        "dw.local(rate=100.0)\n"
        "df = sample_reviews(300)",
        'job = dw.submit(df, "Sentiment of this review, one word: {review}",'
        ' model="Qwen/Qwen3.5-9B", pilot=10, pilot_by="product", name="pilot-run")\njob',
        "print('DW-MARK:' + 'shown')",
    ]


def test_the_pilot_report_then_proceed_then_the_whole_job(jupyter, page, tmp_path):
    path = write_notebook(jupyter.root, "pilot.ipynb", cells(str(tmp_path / "home")))
    open_notebook(page, jupyter, path, "lab")
    run_all(page)
    page.wait_for_mark("shown", timeout=60)
    p = page.page
    proceed = p.locator('[data-testid="dw-proceed"]')
    proceed.wait_for(state="visible", timeout=60_000)
    assert proceed.inner_text() == "Proceed: send the other 290 rows"
    assert p.locator('[data-testid="dw-pilot-row"]').count() == 10
    figures = p.inner_text('[data-testid="dw-pilot-figures"]')
    assert "measured per row" in figures and "on the 24h window" in figures
    assert "static estimate of the rest" in figures and "95%" in figures
    assert p.locator('[data-testid="dw-pilot-answer"]').first.inner_text().strip() in (
        "positive", "negative", "neutral")  # fmt: skip

    SHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    for dark in (False, True):
        _set_theme(page, dark)
        theme = "dark" if dark else "light"
        for width in WIDTHS:
            side = "collapseLeft" if width < 600 else "expandLeft"
            p.evaluate(f"() => window.jupyterapp.shell.{side}()")
            p.set_viewport_size({"width": width, "height": 1800})
            p.wait_for_timeout(250)
            found = p.evaluate(OVERFLOW_JS, {"pilot": '[data-testid="dw-progress"]'})
            problems += [f"{theme} {width}px {issue}" for issue in found]
            node = p.locator('[data-testid="dw-progress"]').first
            node.scroll_into_view_if_needed()
            node.screenshot(path=str(SHOTS / f"lab-{theme}-{width}-pilot-report.png"))
    _set_theme(page, False)
    p.set_viewport_size({"width": 1280, "height": 900})
    assert problems == [], "\n".join(problems[:30])

    p.select_option('[data-testid="dw-pilot-window"]', "1h")
    assert "on the 1h window" in p.inner_text('[data-testid="dw-pilot-figures"]')
    proceed.click()
    static = p.wait_for_selector('[data-testid="dw-progress-static"]', timeout=90_000)
    page.screenshot("pilot-whole-job", '[data-testid="dw-progress-static"]')
    text = static.inner_text()
    assert "300 / 300 done" in text and "completed" in text, text
    counts = page.history("dw-counts")
    assert "10 / 10 done" in counts and any(c.startswith("300 / 300 done") for c in counts)
    assert page.errors == []
