"""The progress widget before the batch exists, in real JupyterLab: uploading, then failed."""

from __future__ import annotations

import pytest

from .conftest import open_notebook, run_all, write_notebook

pytestmark = pytest.mark.browser

CELLS = [
    """\
import threading, time
from dataclasses import replace
from dw_notebook.progress.snapshot import JobSnapshot, SendingSnapshot
from dw_notebook.widgets.progress import ProgressWidget

sending = SendingSnapshot("uploading", rows=1_000_000, files_total=20, bytes_total=830_000_000)

def snap(files, phase="uploading", error=None, done=False):
    s = replace(sending, files_done=files, bytes_done=files * 41_500_000, rate=41_500_000.0,
                error=error)
    return JobSnapshot("million-rows", phase, total=1_000_000, model="mock", done=done,
                       elapsed_s=files, sending=s)

w = ProgressWidget(snap(0))
w""",
    """\
def feed():
    for files in range(1, 8):
        time.sleep(0.15)
        w.update(snap(files))
    time.sleep(1.5)
    w.update(snap(7, "failed", "TransportError: POST files failed: ReadTimeout", done=True))

threading.Thread(target=feed, daemon=True).start()
time.sleep(3)
print('DW-MARK:fed')""",
]


def test_uploading_shows_files_bytes_and_rate_then_the_failure(jupyter, page):
    path = write_notebook(jupyter.root, "submit-phases.ipynb", CELLS)
    open_notebook(page, jupyter, path, "lab")
    run_all(page)
    page.page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="dw-counts"]')]
                 .some((n) => n.textContent.startsWith("7 / 20 files uploaded"))""",
        timeout=30_000,
    )
    page.screenshot("submit-phases-uploading")
    assert "uploading" in page.history("dw-phase")
    assert "7 / 20 files uploaded · 290.5 MB / 830.0 MB · 41.5 MB/s" in page.history("dw-counts")
    page.wait_for_mark("fed", timeout=30)
    summary = page.page.wait_for_selector('[data-testid="dw-progress-static"]', timeout=10_000)
    assert "failed while uploading (7 / 20 files uploaded" in summary.inner_text()
    assert "ReadTimeout" in summary.inner_text()
    page.screenshot("submit-phases-failed")
    assert page.errors == []
