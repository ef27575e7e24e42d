"""The client's promises under Doubleword's real semantics (read from its control layer): a
batch cancelled before it started, cancel on finished batches, refusals that last, growing
files whose X-Last-Line is not the lines sent, requests billed after a cancel.

Faults the local server cannot produce go through the FaultProxy in front of it.
"""

from __future__ import annotations

import orjson
import pytest
from support.proxy import FaultProxy, Reply

import dw_notebook as dw
from dw_notebook.datasets import sample_reviews
from dw_notebook.progress.text import format_progress

PROMPT = "Sentiment of this review, one word: {review}"
CAPACITY = orjson.dumps(
    {
        "error": "too_many_requests",
        "message": "Insufficient capacity for this completion window; try a longer one",
        "retry_after_seconds": 30,
    }
)


def _via(proxy, server):
    return {"api_key": server.token, "base_url": proxy.base_url}


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_a_429_storm_shows_in_the_progress_at_once_and_stops_at_patience(proxy, server):
    proxy.answer("POST", "/files$", 429, CAPACITY, {"Retry-After": "60"}, times=None)
    job = dw.submit(sample_reviews(10), PROMPT, model="mock", patience=4, **_via(proxy, server))
    proxy.wait_for(lambda: job.snapshot().busy, timeout=10, what="the refusal in the snapshot")

    snap = job.snapshot()
    assert snap.busy.startswith("service busy (429, capacity): retrying in ")
    assert "service busy (429, capacity)" in format_progress(snap)
    assert "service busy (429, capacity)" in job.widget().snapshot["message"]
    with pytest.raises(dw.ServiceBusyError, match=r"patience=4 s.*nothing is lost"):
        job.wait(timeout=15, progress=False)
    assert proxy.count("POST", "/batches$") == 0 and not job.batch_ids
    assert proxy.count("POST", "/files$") == 1  # the 60 s were never slept through

    proxy.clear()  # the service takes work again: the same cell resumes the job
    again = dw.submit(sample_reviews(10), PROMPT, model="mock", **_via(proxy, server))
    assert again.join(timeout=30)["status"].eq("ok").all()
    assert proxy.count("POST", "/batches$") == 1
