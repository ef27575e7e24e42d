"""A model answer carrying HTML, through the real path (echo backend -> join -> widgets), stays
text in the browser and runs nothing."""

from __future__ import annotations

import pytest

from .conftest import open_notebook, run_all, write_notebook

pytestmark = pytest.mark.browser

EVIL = '<img src=x onerror="window.__dwPwned=1">'


def test_an_answer_with_html_renders_as_text_everywhere(jupyter, page, tmp_path):
    cells = [
        f"import os; os.environ['DW_NOTEBOOK_HOME'] = {str(tmp_path / 'home')!r}\n"
        "import pandas as pd, dw_notebook as dw\n"
        "dw.local(backend='echo', rate=200.0)\n"
        f"df = pd.DataFrame({{'review': [{EVIL!r}, 'fine', {EVIL!r} + ' twice']}})\n"
        "job = dw.submit(df, '{review}', model='echo', name='hostile')\n"
        "job",
        "out = job.join()\nassert out['content'].str.contains('onerror').sum() == 2\nout",
        "review = job.review(); review",
        "print('DW-MARK:' + 'shown')",
    ]
    path = write_notebook(jupyter.root, "hostile.ipynb", cells)
    open_notebook(page, jupyter, path, "lab")
    run_all(page)
    page.wait_for_mark("shown", timeout=60)
    p = page.page
    p.wait_for_selector('[data-testid="dw-review"]', timeout=20_000)
    review = p.locator('[data-testid="dw-review"]')
    review.get_by_text(EVIL).first.wait_for(timeout=20_000)  # shown, as text
    page.screenshot("hostile-answers")

    assert p.evaluate("() => window.__dwPwned") is None  # no handler ran
    assert p.locator(".jp-OutputArea-output img[src='x']").count() == 0
    assert page.errors == []
