"""The quickstart notebook in real JupyterLab 4 and Notebook 7: the widget counts move live."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from .conftest import APPS, open_notebook, run_all

pytestmark = pytest.mark.browser

QUICKSTART = Path(__file__).parents[2] / "notebooks" / "quickstart.ipynb"


def _copy_quickstart(root: Path, name: str, home: Path) -> str:
    """The quickstart as shipped, with a first cell that gives its kernel a fresh registry
    (so nothing is re-attached from another test) and a last cell that marks the end."""
    nb = nbformat.read(QUICKSTART, as_version=4)
    isolate = f"import os; os.environ['DW_NOTEBOOK_HOME'] = {str(home)!r}"
    nb.cells.insert(0, nbformat.v4.new_code_cell(isolate))
    nb.cells.append(nbformat.v4.new_code_cell("print('DW-MARK:' + 'finished', len(out))"))
    nbformat.write(nb, root / name)
    return name


def _done(text: str) -> int:
    return int(re.match(r"\s*([\d,]+)", text).group(1).replace(",", ""))


@pytest.mark.parametrize("app", APPS)
def test_quickstart_shows_live_progress_then_the_joined_table(jupyter, page, app, tmp_path):
    path = _copy_quickstart(jupyter.root, f"quickstart-{app}.ipynb", tmp_path / "home")
    open_notebook(page, jupyter, path, app)
    run_all(page)
    page.page.wait_for_selector('[data-testid="dw-progress"]', timeout=60_000)
    page.screenshot(f"{app}-running")
    page.wait_for_mark("finished", timeout=120)
    page.screenshot(f"{app}-finished")

    counts = page.history("dw-counts")
    total = 300
    seen = [_done(t) for t in counts]
    assert total in seen, counts
    before_total = set(seen[: seen.index(total)])
    assert len(before_total) >= 3, counts
    # the joined table is rendered below the widget
    assert page.page.locator(".jp-RenderedHTMLCommon table").count() >= 2
    assert page.errors == []
