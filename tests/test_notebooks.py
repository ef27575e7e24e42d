"""The example notebooks beyond the quickstart run headless from top to bottom."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"

CHECKS = {
    "structured_labels.ipynb": """
import pandas as pd
assert len(out) == 400 and (out["status"] == "ok").all(), out["status"].value_counts()
assert isinstance(out["sentiment"].dtype, pd.CategoricalDtype)
assert set(out["attempt"].unique()) == {0, 1}
print("CHECKED")
""",
    "pilot_and_autobatch.ipynb": """
assert len(out) == 1000 and (out["status"] == "ok").all()
assert out["phase"].value_counts().to_dict() == {"rest": 990, "pilot": 10}
assert abs(report.figures.rest_usd - actual) / actual < 0.10
assert len(replies) == 80 and type(replies[-1]).__name__ == "CreateEmbeddingResponse"
assert len(collected) == 81 and all(c.ok for c in collected)
print("CHECKED")
""",
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_example_notebook_runs_and_ends_as_described(name, tmp_path, monkeypatch):
    monkeypatch.setenv("DW_NOTEBOOK_HOME", str(tmp_path / "home"))
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(CHECKS[name]))
    NotebookClient(nb, timeout=180, kernel_name="python3").execute()
    assert any("CHECKED" in o.get("text", "") for o in nb.cells[-1].outputs)


def test_every_notebook_is_tested():
    tested = set(CHECKS) | {"quickstart.ipynb"}  # the quickstart has its own tests
    assert {p.name for p in NOTEBOOKS.glob("*.ipynb")} == tested
