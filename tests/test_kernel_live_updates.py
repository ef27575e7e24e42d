"""In a real kernel, the progress widget keeps updating while another cell blocks."""

from __future__ import annotations

import time

import pytest
from jupyter_client.manager import start_new_kernel

SETUP = """
import dw_notebook as dw
from dw_notebook.datasets import sample_reviews
dw.local(rate=40.0)
job = dw.submit(sample_reviews(200), prompt="Sentiment: {review}", model="mock")
job
"""


def _run(kc, code: str, timeout: float = 60) -> list[dict]:
    """Execute ``code`` and return every IOPub message until the kernel is idle again."""
    msg_id = kc.execute(code)
    messages = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=timeout)
        messages.append(msg)
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
        ):
            return messages
    raise AssertionError("cell did not finish")


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    monkeypatch.setenv("DW_NOTEBOOK_HOME", str(tmp_path / "home"))
    km, kc = start_new_kernel(kernel_name="python3")
    yield kc
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def _counts(messages: list[dict]) -> list[int]:
    counts = []
    for msg in messages:
        if msg["msg_type"] == "comm_msg":
            state = msg["content"]["data"].get("state", {})
            if "snapshot" in state:
                counts.append(state["snapshot"]["completed"])
    return counts


def test_widget_updates_arrive_while_another_cell_sleeps(kernel):
    shown = _run(kernel, SETUP)
    assert any(m["msg_type"] == "display_data" for m in shown), "the job cell shows no widget"
    during_sleep = _run(kernel, "import time; time.sleep(3)")
    counts = _counts(during_sleep)
    # 40 requests/s for 3 s: several distinct, rising counts arrive while the cell blocks
    assert len(set(counts)) >= 3, counts
    assert counts == sorted(counts)
