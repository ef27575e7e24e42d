"""A notebook saved in JupyterLab while its job runs keeps a record of the progress shown at the
moment of the save (not the output's last periodic refresh, up to 10 s older), in its widget
state and in the saved output, and the record says when that was true to the second.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from .conftest import APPS, open_notebook, run_all, write_notebook

pytestmark = pytest.mark.browser

STATE = "application/vnd.jupyter.widget-state+json"
VIEW = "application/vnd.jupyter.widget-view+json"
DONE = re.compile(r"(\d[\d,]*) / (\d[\d,]*) done")
AS_OF = re.compile(r'data-testid="dw-as-of"[^>]*>as of (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)')

# at save "started" (after the record hook, registered first): what the widget shows right then
CAPTURE_AT_SAVE = """() => {
  const context = window.jupyterapp.shell.currentWidget.context;
  window.__saved = null;
  context.saveState.connect((_sender, phase) => {
    if (phase !== 'started' || window.__saved) return;
    const counts = document.querySelector('.dw-progress [data-testid="dw-counts"]');
    window.__saved = { counts: counts && counts.textContent, at: Date.now() };
  });
}"""


def _cells(tmp: Path) -> list[str]:
    return [
        f"import os; os.environ['DW_NOTEBOOK_HOME'] = {str(tmp / 'home')!r}\n"
        "import dw_notebook as dw\n"
        "from dw_notebook.datasets import sample_reviews\n"
        "dw.local(rate=3.0)  # ~40 s for 120 rows: long past the first static refresh\n"
        "job = dw.submit(sample_reviews(120), 'Sentiment, one word: {review}', model='mock',"
        " name='saved-mid-run')\njob",
    ]


@pytest.mark.parametrize("app", APPS)
def test_a_save_mid_run_keeps_the_record_of_the_progress_shown_then(jupyter, page, tmp_path, app):
    path = write_notebook(jupyter.root, f"save-mid-run-{app}.ipynb", _cells(tmp_path))
    open_notebook(page, jupyter, path, app)
    run_all(page)
    p = page.page
    # well into the run: several seconds after the phase change that last re-sent the output
    p.wait_for_function(
        """() => {
          const n = document.querySelector('.dw-progress [data-testid="dw-counts"]');
          const m = n && n.textContent.match(/(\\d+) \\/ 120 done/);
          return m && Number(m[1]) >= 15;
        }""",
        timeout=90_000,
    )
    p.evaluate(CAPTURE_AT_SAVE)
    p.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    p.wait_for_function(
        "() => window.__saved && !window.jupyterapp.shell.currentWidget.context.model.dirty",
        timeout=10_000,
    )
    saved_at = datetime.now()
    shown = p.evaluate("() => window.__saved")
    page.screenshot(f"saved-mid-run-{app}", ".jp-OutputArea-output")
    p.evaluate("() => window.jupyterapp.commands.execute('kernelmenu:shutdown')")

    nb = json.loads((jupyter.root / path).read_text())
    views = [
        o["data"] for o in nb["cells"][0]["outputs"] if VIEW in o.get("data", {})
    ]  # the running job's output: the live widget, with its (periodic) static forms
    assert len(views) == 1
    model_id = views[0][VIEW]["model_id"]
    record = nb["metadata"]["widgets"][STATE]["state"][model_id]
    html = "".join(record["state"]["outputs"][0]["data"]["text/html"])

    shown_done = DONE.search(shown["counts"]).groups()
    assert DONE.search(html).groups() == shown_done, (shown["counts"], html)
    # the saved output itself (what GitHub, an untrusted notebook or an export without widget
    # state show) holds the same record, though on screen it is refreshed only every 10 s
    output_html = "".join(views[0]["text/html"])
    assert DONE.search(output_html).groups() == shown_done, output_html
    assert AS_OF.search(output_html).group(1) == AS_OF.search(html).group(1)
    assert "".join(views[0]["text/plain"]) == "".join(
        record["state"]["outputs"][0]["data"]["text/plain"]
    )
    as_of = datetime.strptime(AS_OF.search(html).group(1), "%Y-%m-%d %H:%M:%S")
    assert abs((saved_at - as_of).total_seconds()) <= 3, (as_of, saved_at)
    assert page.errors == []
    p.set_content(html)  # the saved record as a reader sees it
    page.screenshot(f"saved-record-{app}", '[data-testid="dw-progress-static"]')
