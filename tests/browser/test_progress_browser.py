"""The progress widget in real JupyterLab 4 and Notebook 7: live while another cell blocks."""

from __future__ import annotations

import re

import pytest

from .conftest import APPS, open_notebook, run_all, use_dark_theme, write_notebook

pytestmark = pytest.mark.browser

TOTAL = 40

CELLS = [
    f"""\
import threading, time
from dw_notebook.progress.snapshot import JobSnapshot
from dw_notebook.widgets.progress import ProgressWidget

def snap(i, phase="in_progress", done=False):
    return JobSnapshot("browser-demo", phase, total={TOTAL}, completed=i, failed=i // 10,
                       model="mock", done=done, elapsed_s=i * 0.06, throughput=16.0,
                       eta_s=({TOTAL} - i) * 0.06, window_left_s=86000, estimated_cost=0.0123,
                       message="answers are simulated by the local mock server")

w = ProgressWidget(snap(0, "validating"))
w""",
    f"""\
def feed():
    time.sleep(0.3)
    for i in range({TOTAL - 4} + 1):
        w.update(snap(i))
        time.sleep(0.06)
    w.update(snap({TOTAL - 4}, "completed", done=True))

threading.Thread(target=feed, daemon=True).start()""",
    "time.sleep(4)\nprint('DW-MARK:slept')",
]


def _done_count(text: str) -> int:
    return int(re.match(r"\s*(\d+)", text).group(1))


@pytest.mark.parametrize("app", APPS)
def test_progress_moves_while_another_cell_sleeps(jupyter, page, app):
    path = write_notebook(jupyter.root, f"progress-{app}.ipynb", CELLS)
    open_notebook(page, jupyter, path, app)
    if app == "lab":  # look at it in both themes: Lab dark, Notebook 7 light
        use_dark_theme(page)
    run_all(page)
    page.page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="dw-counts"]')]
                 .some((n) => parseInt(n.textContent, 10) >= 15)""",
        timeout=30_000,
    )
    page.screenshot(f"{app}-running")
    slept_at = page.wait_for_mark("slept", timeout=30)

    counts = page.timed_history("dw-counts")
    before_sleep_ended = [e["text"] for e in counts if e["t"] < slept_at]
    final = f"{TOTAL - 4} / {TOTAL} done, 3 failed"
    assert final in before_sleep_ended, counts
    moving = {t for t in before_sleep_ended[: before_sleep_ended.index(final)]}
    assert len({_done_count(t) for t in moving}) >= 3, counts
    assert "in progress" in page.history("dw-phase")

    # the end state is left as static HTML in the output (display-id update)
    static = page.page.wait_for_selector('[data-testid="dw-progress-static"]', timeout=10_000)
    assert final in static.inner_text()
    assert page.page.locator('[data-testid="dw-progress"]').count() == 0
    page.screenshot(f"{app}-done")
    assert page.errors == []
