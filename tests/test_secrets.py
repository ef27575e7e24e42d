"""The API key never reaches widget state, notebook outputs, reprs, logs or files we write."""

from __future__ import annotations

import logging

import nbformat
from nbclient import NotebookClient

from dw_notebook.server import start_server

SECRET = "sk-dw-test-7f3a9c1e5b2d4f60"

CELLS = [
    "import logging, dw_notebook as dw\n"
    "from dw_notebook.datasets import sample_reviews\n"
    "logging.basicConfig(level=logging.DEBUG)\n"
    "df = sample_reviews(30)",
    'job = dw.submit(df, "Sentiment: {review}", model="mock")\njob',
    "out = job.join()\nout.head()",
    "print(repr(job), repr(job.connection), job.snapshot())",
    "dw.jobs()",
]


def test_a_saved_notebook_with_widget_state_never_contains_the_key(tmp_path, monkeypatch):
    home = tmp_path / "home"
    with start_server(dialect="doubleword", token=SECRET, rate=500.0,
                      data_dir=tmp_path / "srv") as srv:  # fmt: skip
        monkeypatch.setenv("DOUBLEWORD_API_KEY", SECRET)
        monkeypatch.setenv("DOUBLEWORD_BASE_URL", srv.base_url)
        monkeypatch.setenv("DW_NOTEBOOK_HOME", str(home))
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
        client = NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=True)
        client.execute()
    saved = tmp_path / "saved.ipynb"
    nbformat.write(nb, saved)
    text = saved.read_text()
    assert "application/vnd.jupyter.widget-state+json" in text  # widget state was stored
    assert "snapshot" in text
    assert SECRET not in text
    for path in home.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_the_key_is_not_logged(caplog, tmp_path, monkeypatch):
    import dw_notebook as dw
    from dw_notebook.datasets import sample_reviews

    with start_server(dialect="openai", token=SECRET, rate=None, data_dir=tmp_path / "s") as srv:
        monkeypatch.setenv("DOUBLEWORD_API_KEY", SECRET)
        monkeypatch.setenv("DOUBLEWORD_BASE_URL", srv.base_url)
        with caplog.at_level(logging.DEBUG):
            job = dw.submit(sample_reviews(5), "Sentiment: {review}", model="mock")
            job.join(timeout=30)
    assert caplog.records  # httpx and friends did log
    assert SECRET not in caplog.text
