"""Keys pressed inside our widgets stay in them: in JupyterLab and Notebook 7 the arrow keys move a
select's option, not the notebook's active cell."""

from __future__ import annotations

import pytest

from .conftest import APPS, open_notebook, run_all, write_notebook

pytestmark = pytest.mark.browser

ACTIVE_CELL = "() => window.jupyterapp.shell.currentWidget.content.activeCellIndex"


@pytest.mark.parametrize("app", APPS)
def test_arrow_keys_in_the_builders_select_do_not_move_the_active_cell(
    jupyter, page, app, tmp_path
):
    cells = [
        f"import os; os.environ['DW_NOTEBOOK_HOME'] = {str(tmp_path / 'home')!r}\n"
        "import pandas as pd, dw_notebook as dw\n"
        "df = pd.DataFrame({'review': ['a', 'b', 'c'], 'product': ['x', 'y', 'z'],"
        " 'shop': ['p', 'q', 'r']})\n"
        "dw.builder(df)",
        "x = 1",
        "y = 2",
        "print('DW-MARK:' + 'shown')",
    ]
    path = write_notebook(jupyter.root, f"keys-{app}.ipynb", cells)
    open_notebook(page, jupyter, path, app)
    run_all(page)
    page.wait_for_mark("shown", timeout=60)
    p = page.page
    select = p.locator('[data-testid="dw-pilot-by"]').first
    select.wait_for(timeout=20_000)
    p.locator('[data-testid="dw-pilot"]').first.check()  # the select is enabled with the pilot
    p.wait_for_function("() => !document.querySelector('[data-testid=\"dw-pilot-by\"]').disabled")
    # the first cell active, in command mode, focus on the select (as after a click on it)
    p.evaluate("() => { const nb = window.jupyterapp.shell.currentWidget.content;"
               " nb.activeCellIndex = 0; nb.mode = 'command'; }")  # fmt: skip
    select.focus()
    options = select.evaluate("(s) => [...s.options].map((o) => o.value)")
    assert len(options) >= 3, options
    before = select.input_value()
    p.keyboard.press("ArrowDown")
    p.keyboard.press("ArrowDown")
    page.screenshot(f"keys-{app}")
    assert p.evaluate(ACTIVE_CELL) == 0  # the notebook kept its active cell
    assert select.input_value() != before  # the select took the keys
    assert p.evaluate("() => document.activeElement.dataset.testid") == "dw-pilot-by"
