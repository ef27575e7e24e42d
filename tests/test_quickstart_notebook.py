"""The quickstart notebook runs headless from top to bottom and joins the right answers."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "quickstart.ipynb"

CHECK = """
from dw_notebook.server.backends import MockBackend
_backend = MockBackend()
def _answer(review):
    body = {"model": "mock", "messages": [{"role": "user",
            "content": f"Sentiment of this review, one word: {review}"}]}
    return _backend.respond("/v1/chat/completions", body)[1]["choices"][0]["message"]["content"]
assert out.index.equals(df.index) and len(out) == 300
assert (out["status"] == "ok").all(), out["status"].value_counts()
assert out["content"].tolist() == [_answer(r) for r in df["review"]]
assert job.connection.simulated
print("CHECKED", out["content"].nunique())
"""


def test_quickstart_notebook_executes_and_joins_every_row(tmp_path, monkeypatch):
    monkeypatch.setenv("DW_NOTEBOOK_HOME", str(tmp_path / "home"))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(CHECK))
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()

    outputs = nb.cells[-1].outputs
    assert any("CHECKED" in o.get("text", "") for o in outputs), outputs
    # The cell showing the job leaves a progress display in the saved notebook.
    job_cell = next(c for c in nb.cells if c.source.rstrip().endswith("job"))
    assert job_cell.outputs, "the job cell shows nothing"
