"""The progress widget in a real kernel, no browser: live updates and the saved notebook."""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import start_new_kernel
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

FEED = """\
import sys, threading, time
sys.path.insert(0, {repo!r})
from dw_notebook.progress.snapshot import JobSnapshot
from dw_notebook.widgets.progress import ProgressWidget

w = ProgressWidget(JobSnapshot("k", "validating", total=20))
def feed():
    for i in range(21):
        w.update(JobSnapshot("k", "in_progress", total=20, completed=i))
        time.sleep(0.03)
    w.update(JobSnapshot("k", "completed", total=20, completed=20, done=True,
                         message="answers are simulated"))
"""


@pytest.fixture
def kernel():
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_updates_from_a_thread_arrive_while_the_cell_is_busy(kernel):
    kernel.execute_interactive(FEED.format(repo=str(REPO)), timeout=30)
    msg_id = kernel.execute("threading.Thread(target=feed, daemon=True).start(); time.sleep(1.2)")
    completed_while_busy = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        msg = kernel.get_iopub_msg(timeout=10)
        content = msg["content"]
        if msg["msg_type"] == "status" and msg["parent_header"].get("msg_id") == msg_id:
            if content["execution_state"] == "idle":
                break
        if msg["msg_type"] == "comm_msg":
            state = content["data"].get("state", {})
            if "snapshot" in state:
                completed_while_busy.append(state["snapshot"]["completed"])
    assert len(set(completed_while_busy)) >= 3, completed_while_busy
    assert completed_while_busy[-1] == 20
    # throttled: 22 snapshots in ~0.7 s become a handful of messages
    assert len(completed_while_busy) <= 8, completed_while_busy


def test_saved_notebook_keeps_the_outcome_as_html_and_no_secret(tmp_path, monkeypatch):
    secret = "sk-test-" + "x" * 24
    monkeypatch.setenv("DOUBLEWORD_API_KEY", secret)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(FEED.format(repo=str(REPO)) + "w"),
        nbformat.v4.new_code_cell("t = threading.Thread(target=feed); t.start(); t.join()"),
    ]
    NotebookClient(nb, timeout=60, kernel_name="python3", store_widget_state=True).execute()
    path = tmp_path / "saved.ipynb"
    nbformat.write(nb, path)
    text = path.read_text()
    assert secret not in text

    output = nb.cells[0].outputs[0]
    assert WIDGET_VIEW not in output["data"]  # replaced at the end (display-id update)
    assert "20 / 20 done" in output["data"]["text/html"]
    assert output["data"]["text/plain"].startswith("k completed: 20 / 20 done")
    states = json.loads(text)["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"][
        "state"
    ]
    snapshots = [s["state"]["snapshot"] for s in states.values() if "snapshot" in s["state"]]
    assert snapshots and snapshots[0]["done"] is True
