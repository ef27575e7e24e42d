"""The progress widget's cancel button cancels a running batch on the local server."""

from __future__ import annotations

import pytest

from .conftest import APPS, open_notebook, run_all, write_notebook

pytestmark = pytest.mark.browser


def cells(home: str) -> list[str]:
    return [
        f"import os; os.environ['DW_NOTEBOOK_HOME'] = {home!r}",
        """\
import dw_notebook as dw
from dw_notebook.datasets import sample_reviews

dw.local(rate=10.0)  # slow enough that the batch is still running when we cancel
df = sample_reviews(300)
job = dw.submit(df, prompt="Sentiment of this review, one word: {review}", model="mock")
job""",
    ]


@pytest.mark.parametrize("app", APPS)
def test_cancel_button_cancels_the_running_batch(jupyter, page, tmp_path, app):
    path = write_notebook(jupyter.root, f"cancel-{app}.ipynb", cells(str(tmp_path / "home")))
    open_notebook(page, jupyter, path, app)
    run_all(page)
    p = page.page
    p.wait_for_function(
        """() => parseInt(
                   document.querySelector('[data-testid="dw-counts"]')?.textContent, 10) >= 3""",
        timeout=60_000,
    )
    assert "simulated" in p.inner_text('[data-testid="dw-message"]')
    p.click('[data-testid="dw-cancel"]')
    p.click('[data-testid="dw-cancel-confirm"]')
    # the record of the ended job; it may be shown again as late figures arrive (Doubleword
    # finishes requests in flight after a cancel), so it is looked up afresh each time
    p.wait_for_function(
        """() => document.querySelector('[data-testid="dw-progress-static"]')
                   ?.textContent.includes('cancelled')""",
        timeout=30_000,
    )
    page.screenshot(f"cancelled-{app}", '[data-testid="dw-progress-static"]')
    assert "cancelled" in p.inner_text('[data-testid="dw-progress-static"]')
    done = int(p.inner_text('[data-testid="dw-progress-static"] [data-testid="dw-counts"]')
               .split()[0].replace(",", ""))  # fmt: skip
    assert done < 300
    assert page.errors == []
