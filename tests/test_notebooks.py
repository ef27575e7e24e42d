"""The example notebooks beyond the quickstart run headless from top to bottom."""

from __future__ import annotations

import socket
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from support.chat_server import ChatServer

from dw_notebook.server import start_server

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"

# What the mock backend answers for row i of `requests` (the schema's `operation` field); the
# answer depends on the messages only, so body changes such as max_tokens do not matter.
MOCK_OPERATIONS = """
import orjson
from dw_notebook.server.backends import MockBackend
_mock = MockBackend()
def _operation(i):
    line = orjson.loads(requests.line(i))
    status, reply = _mock.respond(line["url"], {**line["body"], "max_tokens": 10_000})
    assert status == 200
    return orjson.loads(reply["choices"][0]["message"]["content"])["operation"]
_expected = [_operation(i) for i in range(requests.n)]
_joined = out.loc[list(requests.custom_ids), "operation"].astype(str).tolist()
"""

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
    "labelling.ipynb": MOCK_OPERATIONS
    + """
import inspect, json
import pandas as pd
# real text: the standard library's own docstrings, hundreds of them
assert len(df) > 500 and df.loc["json.dumps", "docstring"] == inspect.getdoc(json.dumps)
assert report.figures.truncated > 0 and len(failed) > 0  # the retry had work to do
assert set(kinds["http"]) == {"HTTP 400", "HTTP 500"}
assert len(out) == len(df) and (out["status"] == "ok").all(), out["status"].value_counts()
assert out["parse_error"].isna().all() and (out["finish_reason"] == "stop").all()
assert set(out["phase"]) == {"pilot", "rest", "retry 1"}
assert _joined == _expected  # every row carries the answer to its own request
assert len(partial) == len(df)
pd.testing.assert_frame_equal(pd.read_parquet(path), out.drop(columns=["docstring"]))
print("CHECKED", len(df))
""",
    "from_openai_sdk.ipynb": """
assert batch.status == "completed" and len(answers) == len(df) == 60 and not errors
assert (out["status"] == "ok").all() and out["operation"].nunique() > 1
assert same.all()  # both ways gave each row the same answer
print("CHECKED")
""",
}


def run(name: str, tmp_path: Path, check: str) -> nbformat.NotebookNode:
    """Execute notebook ``name`` with ``check`` appended, in ``tmp_path``; returns it executed."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(check))
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    assert any("CHECKED" in o.get("text", "") for o in nb.cells[-1].outputs), nb.cells[-1].outputs
    return nb


def printed(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.outputs)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_example_notebook_runs_and_ends_as_described(name, tmp_path):
    run(name, tmp_path, CHECKS[name])


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_local_models_notebook_says_what_it_skips_without_a_model_server(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCAL_MODEL_URL", _closed_port_url())
    nb = run("local_models.ipynb", tmp_path, 'assert not UP and MODEL is None\nprint("CHECKED")')
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "No model server answers at" in printed(code[0])
    skipped = [c for c in code if printed(c).startswith("skipped: ")]
    assert len(skipped) == 6, [printed(c) for c in code]


def test_local_models_notebook_forwards_every_row_to_the_model_server(tmp_path, monkeypatch):
    with ChatServer() as upstream:
        monkeypatch.setenv("LOCAL_MODEL_URL", upstream.url)
        check = (
            MOCK_OPERATIONS
            + """
assert UP and MODEL == "tiny-local-model"
assert (out["status"] == "ok").all() and _joined == _expected
print("CHECKED", len(out))
"""
        )
        nb = run("local_models.ipynb", tmp_path, check)
        assert upstream.calls == 100 and upstream.models == {"tiny-local-model"}
    assert not any(printed(c).startswith("skipped: ") for c in nb.cells if c.cell_type == "code")


def test_doubleword_notebook_runs_without_a_key_and_says_what_it_skips(tmp_path):
    nb = run("doubleword.ipynb", tmp_path, 'assert not HAVE_KEY and not READY\nprint("CHECKED")')
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "No Doubleword key" in printed(code[0])
    assert sum(printed(c).startswith("skipped: ") for c in code) == 5
    # the price table and the estimates need no key
    assert "24h: ≈ $" in "".join(printed(c) for c in code)


def test_doubleword_notebook_with_a_key_submits_reattaches_and_never_shows_the_key(
    tmp_path, monkeypatch
):
    secret = "sk-notebook-secret-0123456789"
    srv = start_server(dialect="doubleword", token=secret, rate=2000.0,
                       data_dir=tmp_path / "service")  # fmt: skip
    try:
        monkeypatch.setenv("DOUBLEWORD_API_KEY", secret)
        monkeypatch.setenv("DOUBLEWORD_BASE_URL", srv.base_url)
        check = """
assert HAVE_KEY and READY and MODEL in models
assert again.batch_ids == rerun.batch_ids == job.batch_ids
out = job.join(timeout=60)
assert len(out) == len(df) == 200 and (out["status"] == "ok").all()
print("CHECKED")
"""
        nb = run("doubleword.ipynb", tmp_path, check)
    finally:
        srv.stop()
    assert not any(printed(c).startswith("skipped: ") for c in nb.cells if c.cell_type == "code")
    assert secret not in nbformat.writes(nb)


def test_every_notebook_is_tested():
    tested = set(CHECKS) | {"quickstart.ipynb", "local_models.ipynb", "doubleword.ipynb"}
    assert {p.name for p in NOTEBOOKS.glob("*.ipynb")} == tested


def test_committed_notebooks_carry_no_outputs():
    for path in NOTEBOOKS.glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, path.name
