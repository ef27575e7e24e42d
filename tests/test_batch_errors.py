"""A batch's own errors reach the rows they name, and the common HTTP errors say what to do."""

from __future__ import annotations

import pandas as pd
import pytest
from support.proxy import FaultProxy

import dw_notebook as dw
from dw_notebook.errors import (
    AuthenticationError,
    FileTooLargeError,
    InsufficientCreditsError,
    NotFoundError,
)
from dw_notebook.progress.text import format_summary

DF = pd.DataFrame({"text": ["a", "b", "c"]}, index=["r0", "r1", "r2"])


@pytest.mark.parametrize("dialect", ["openai"])
def test_a_batch_that_fails_validation_tells_every_row_why(server, conn):
    job = dw.submit(DF, "Echo: {text}", model="no-such-model", **conn)
    out = job.join(timeout=30)
    snapshot = job.snapshot()
    assert snapshot.phase == "failed"
    assert out["status"].tolist() == ["failed"] * 3
    first = out["error"].iloc[0]
    assert "model_not_found" in first and "(input line 1, body.model)" in first
    assert "Fix: use a model the service lists" in first
    assert out["error"].iloc[1].startswith("not run: the batch failed validation")
    assert "model_not_found" in out["error"].iloc[2]
    assert snapshot.extra["errors"][0]["code"] == "model_not_found"
    assert "Errors: model_not_found: The model 'no-such-model'" in format_summary(snapshot)
    assert "(line 1, body.model)" in format_summary(snapshot)
    partial = job.partial()  # partial reads say the same, once
    assert partial["error"].tolist() == out["error"].tolist()
    assert job.partial()["status"].tolist() == ["failed"] * 3


def test_wrong_key_says_what_to_do(server):
    with pytest.raises(AuthenticationError, match="Fix: check the API key"):
        dw.submit(DF, "Echo: {text}", model="mock", api_key="wrong",
                  base_url=server.base_url).wait_submitted()  # fmt: skip


def test_too_large_a_file_says_to_split(make_server):
    small = make_server(max_file_bytes=200)
    conn = {"api_key": small.token, "base_url": small.base_url}
    with pytest.raises(FileTooLargeError, match="max_bytes="):
        dw.submit(DF, "Echo: {text}" + "x" * 300, model="mock", **conn).wait_submitted()


def test_no_credits_and_unknown_model_say_what_to_do(server):
    with FaultProxy(server.base_url) as proxy:
        conn = {"api_key": server.token, "base_url": proxy.base_url}
        proxy.answer("POST", "^/files$", 402, b"Insufficient credits", times=None)
        with pytest.raises(InsufficientCreditsError, match="add credits"):
            dw.submit(DF, "Echo: {text}", model="mock", **conn).wait_submitted()
        proxy.clear()
        body = b'{"error": {"message": "The model x does not exist", "code": "model_not_found"}}'
        proxy.answer("POST", "^/batches$", 404, body, {"content-type": "application/json"})
        with pytest.raises(NotFoundError, match="use a model the service lists"):
            dw.submit(DF, "Echo: {text}", model="mock", name="m2", **conn).wait_submitted()


def test_a_batch_stuck_in_validating_says_what_to_do(make_server):
    slow = make_server(validation_delay=30.0)
    job = dw.submit(DF, "Echo: {text}", model="mock", api_key=slow.token, base_url=slow.base_url)
    job.wait_submitted()
    job._tracker.stuck_validating_s = 0.0  # the threshold (10 minutes) reached at once
    snapshot = job.refresh()
    assert snapshot.phase == "validating"
    assert "still validating after" in snapshot.message and "job.cancel()" in snapshot.message
    job.cancel()


def test_an_escaped_custom_id_in_a_line_that_is_not_json_is_read_unescaped():
    from dw_notebook.job.batch_errors import input_ids

    good = b'{"custom_id": "a\\"b", "body": {}}'
    broken = b'{"custom_id": "a\\"b", "body": {'  # cut short: not JSON
    assert input_ids(good + b"\n" + broken) == ['a"b', 'a"b']
