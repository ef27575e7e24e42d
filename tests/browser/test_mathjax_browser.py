"""MathJax never typesets our text: costs and prompts with ``$`` stay text in JupyterLab (MathJax 3)
and in nbconvert's HTML export (MathJax 2, loaded from a local copy: no CDN here), while a control
output beside them is typeset, so the check cannot pass because MathJax did not run."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter

from .conftest import REPO, open_notebook, run_all, write_notebook

pytestmark = pytest.mark.browser

MATHJAX2 = REPO / "node_modules" / "mathjax" / "MathJax.js"

CELLS = [
    "import os\n"
    "import pandas as pd, dw_notebook as dw\n"
    "from IPython.display import HTML, display\n"
    "from dw_notebook.job.pilot_report import PilotFigures, PilotReport\n"
    "df = pd.DataFrame({'review': ['Worth $5 and $6?', 'At $10 or $20 a month']})",
    # the control: plain HTML with two dollars is typeset, so MathJax runs on outputs here
    "display(HTML('<p class=\"dw-control\">between $x^2$ and $y$</p>'))",
    # what the issue saw typeset: the pilot report's cost range
    "figures = PilotFigures(model='Qwen/Qwen3.5-9B', window='24h', pilot_rows=2, answered=2,\n"
    "    failed=0, truncated=0, input_tokens_per_row=10.0, output_tokens_per_row=2.0,\n"
    "    output_tokens_sd=0.0, rest_rows=95, rest_input_tokens=950, rest_output_tokens=190,\n"
    "    pilot_usd=0.0001, rest_usd=0.006768, rest_low_usd=0.006502, rest_high_usd=0.007035,\n"
    "    static_rest_usd=0.007)\n"
    "rows = pd.DataFrame({'prompt': df['review'], 'content': ['$11', '$30'],\n"
    "                     'status': ['ok', 'ok']})\n"
    "PilotReport(figures, rows, ['content'])",
    "requests = dw.prepare(df, 'Price check, $ in and $ out: {review}', model='Qwen/Qwen3.5-9B')\n"
    "requests.preview(2)",
    "dw.estimate(requests, '24h')",
    "requests",
]

# How many typeset formulas each output holds: MathJax 3 writes <mjx-container>, MathJax 2's
# CommonHTML output spans of class MathJax_CHTML (and mjx-chtml inside them).
COUNT_MATH = """
(selector) => [...document.querySelectorAll(selector)].map((out) => ({
  control: Boolean(out.querySelector('.dw-control')),
  math: out.querySelectorAll('mjx-container, .MathJax_CHTML, .mjx-chtml, .MathJax').length,
  dollars: (out.textContent.match(/\\$/g) || []).length,
}))
"""


def _check(outputs: list[dict]) -> None:
    control = [o for o in outputs if o["control"]]
    ours = [o for o in outputs if not o["control"] and o["dollars"]]
    assert control and control[0]["math"] >= 1, outputs  # MathJax ran on this page
    assert len(ours) >= 4, outputs  # report, preview, estimate, built requests
    assert all(o["math"] == 0 for o in ours), outputs


def test_jupyterlab_typesets_none_of_our_outputs(jupyter, page, tmp_path):
    home = f"\nos.environ['DW_NOTEBOOK_HOME'] = {str(tmp_path / 'home')!r}"
    cells = [CELLS[0] + home, *CELLS[1:], "print('DW-MARK:' + 'done')"]
    path = write_notebook(jupyter.root, "mathjax.ipynb", cells)
    open_notebook(page, jupyter, path, "lab")
    run_all(page)
    page.wait_for_mark("done", timeout=90)
    p = page.page
    p.wait_for_selector(".dw-control mjx-container", timeout=60_000)  # MathJax 3 has run
    p.wait_for_timeout(500)  # and finished the outputs rendered with the control
    page.screenshot("mathjax-lab")
    _check(p.evaluate(COUNT_MATH, ".jp-OutputArea-output"))


def test_nbconvert_html_typesets_none_of_our_outputs(browser, tmp_path):
    assert MATHJAX2.exists(), "npm ci installs mathjax 2 (a dev dependency) for this test"
    nb = nbformat.v4.new_notebook()
    home = f"\nos.environ['DW_NOTEBOOK_HOME'] = {str(tmp_path / 'home')!r}"
    nb.cells = [nbformat.v4.new_code_cell(src) for src in [CELLS[0] + home, *CELLS[1:]]]
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    exporter = HTMLExporter(mathjax_url=f"{MATHJAX2.as_uri()}?config=TeX-AMS_CHTML-full,Safe")
    body, _ = exporter.from_notebook_node(nb)
    html = tmp_path / "export.html"
    html.write_text(body)

    context = browser.new_context()
    try:
        p = context.new_page()
        p.goto(html.as_uri())
        p.wait_for_function(
            "() => window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0"
            " && document.querySelector('.MathJax_CHTML, .mjx-chtml')",
            timeout=60_000,
        )
        p.screenshot(path=str(Path(tmp_path) / "mathjax-nbconvert.png"), full_page=True)
        outputs = p.evaluate(COUNT_MATH, ".jp-OutputArea-output")
    finally:
        context.close()
    _check(outputs)
