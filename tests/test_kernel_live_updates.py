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


def test_reading_a_dataset_in_the_submit_call_shows_the_rows_read_in_place(kernel, tmp_path):
    code = f"""
import dw_notebook as dw
from dw_notebook.datasets import sample_reviews
from dw_notebook.job import dataset
df = sample_reviews(300).reset_index(drop=True)
df.insert(0, "review_id", [f"r{{i}}" for i in range(len(df))])
df.to_parquet({str(tmp_path / "reviews.parquet")!r}, index=False)
dataset.ROWS_SHOWN_AFTER = 0  # shown from the first batch here; after 1 s by default
dw.local(rate=None)
job = dw.submit({str(tmp_path / "reviews.parquet")!r}, "Sentiment: {{review}}", model="mock",
                id_column="review_id", batch_rows=100)
"""
    messages = _run(kernel, code)
    shown = [m for m in messages if m["msg_type"] in ("display_data", "update_display_data")]
    texts = [m["content"]["data"]["text/plain"] for m in shown]
    assert [m["msg_type"] for m in shown][0] == "display_data", texts
    assert texts[0].startswith("reading rows: 100 / 300 · "), texts
    assert texts[-1].startswith("read 300 rows in "), texts
    assert {m["content"]["transient"]["display_id"] for m in shown} == {
        shown[0]["content"]["transient"]["display_id"]
    }  # one output, updated in place
