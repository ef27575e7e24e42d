"""The labelling notebook as a data scientist runs it: in JupyterLab, with the quickstart's
kernel (and its embedded server) still running, top to bottom with no error; the pilot's widget
offers the fix for what the pilot found, nothing is typeset as LaTeX, and the counts agree."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from .conftest import open_notebook, run_all

pytestmark = pytest.mark.browser

NOTEBOOKS = Path(__file__).parents[2] / "notebooks"

# Printed at the end of the labelling run: the counts as Python computes them.
FIGURES = """
import json
from IPython.display import display
review = job.review()
print("DW-FIGURES:" + json.dumps(review.counts.to_dict()))
display(review)
print("DW-MARK:" + "finished")
"""

# Records every text the pilot's title shows (JupyterLab drops cells far above the one running
# from the page, so the title is read as it was shown, not at the end).
TITLES = """
(() => {
  window.__dwTitles = [];
  const look = () => {
    for (const node of document.querySelectorAll('[data-testid="dw-pilot-title"]')) {
      const text = node.textContent;
      if (text && !window.__dwTitles.includes(text)) window.__dwTitles.push(text);
    }
  };
  const start = () => new MutationObserver(look).observe(document.documentElement,
    { subtree: true, childList: true, characterData: true });
  if (document.documentElement) start(); else document.addEventListener("DOMContentLoaded", start);
})();
"""


def _copy(root: Path, name: str, home: Path, *tail: str) -> str:
    """A shipped notebook with a first cell giving its kernel ``home`` (shared by both
    notebooks here, as on one machine) and ``tail`` cells appended."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    isolate = f"import os; os.environ['DW_NOTEBOOK_HOME'] = {str(home)!r}"
    nb.cells.insert(0, nbformat.v4.new_code_cell(isolate))
    nb.cells += [nbformat.v4.new_code_cell(src) for src in tail]
    nbformat.write(nb, root / name)
    return name


def _errors(page) -> list[str]:
    """Error outputs (tracebacks) anywhere in the notebook."""
    return page.page.evaluate(
        """() => [...document.querySelectorAll(
              '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
            .map((n) => n.textContent).filter((t) => /Error|Traceback/.test(t))"""
    )


@pytest.mark.timeout(900)
def test_labelling_beside_a_running_quickstart(jupyter, page, tmp_path):
    home = tmp_path / "home"
    quick = _copy(jupyter.root, "quickstart.ipynb", home, "print('DW-MARK:' + 'quick')")
    open_notebook(page, jupyter, quick, "lab")
    run_all(page)
    page.wait_for_mark("quick", timeout=180)  # its kernel and embedded server keep running

    path = _copy(jupyter.root, "labelling.ipynb", home, FIGURES)
    page.page.add_init_script(TITLES)
    open_notebook(page, jupyter, path, "lab")
    run_all(page)
    page.page.wait_for_selector('[data-testid="dw-pilot-title"]', timeout=120_000)
    page.screenshot("pilot")
    page.wait_for_mark("finished", timeout=420)
    page.screenshot("finished")

    assert _errors(page) == []
    assert page.errors == []
    # nothing of ours typeset by MathJax (JupyterLab's MathJax 3 renders into mjx-container)
    assert page.page.locator(".jp-OutputArea-output mjx-container").count() == 0

    # the pilot's widget says the rest went with the fix its findings called for (the offer
    # itself, before a click, is tested in test_pilot_fix_browser.py)
    titles = page.page.evaluate("() => window.__dwTitles")
    assert any("sent on the 24h window with max_tokens=64" in t for t in titles), titles

    text = page.page.locator(".jp-OutputArea-output", has_text="DW-FIGURES:").last.inner_text()
    figures = json.loads(text.split("DW-FIGURES:", 1)[1].splitlines()[0])
    assert figures["rows"] == figures["answered"] + figures["failed"] + figures["missing"], text
    # the review shown beside them prints the same counts
    shown = f"{figures['rows']:,} rows: {figures['answered']:,} answered"
    page.page.wait_for_function(
        """(shown) => [...document.querySelectorAll('[data-testid="dw-review-counts"]')]
                      .some((n) => n.textContent.startsWith(shown))""",
        arg=shown,
        timeout=30_000,
    )
