"""A job answered by a real local model through the embedded server's forward backend is not
called simulated: the answers come from the model, only the price is unknown."""

from __future__ import annotations

import pandas as pd
import pytest

import dw_notebook as dw
from tests.support.chat_server import ChatServer


@pytest.fixture
def forwarding_server():
    with ChatServer() as upstream:
        dw.stop_local()
        dw.local(backend="forward", rate=None, backend_options={"url": upstream.url})
        try:
            yield upstream
        finally:
            dw.stop_local()


def test_a_forwarded_job_says_its_answers_come_from_the_model(forwarding_server):
    df = pd.DataFrame({"text": ["one", "two", "three"]})
    job = dw.submit(df, "Repeat: {text}", model=forwarding_server.model)
    out = job.join(timeout=60)

    assert (out["status"] == "ok").all() and forwarding_server.calls == 3
    snap = job.snapshot()
    assert not snap.simulated
    assert "simulated" not in snap.message
    assert snap.cost_note == "n/a (no price for this model)"


def test_the_mock_backend_is_still_called_simulated():
    df = pd.DataFrame({"text": ["one"]})
    job = dw.submit(df, "Repeat: {text}", model="mock")
    job.join(timeout=60)

    snap = job.snapshot()
    assert snap.simulated and "simulated" in snap.message
    assert snap.cost_note == "n/a (simulated)"
