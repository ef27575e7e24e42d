"""The submit's steps before its batches exist: on the job's thread, shown, raised, never twice.

Faults go through the FaultProxy in front of the local server: a held upload, an upload the
service refuses, 429 answers to the first uploads.
"""

from __future__ import annotations

import numpy as np
import pytest
from support.proxy import FaultProxy

import dw_notebook as dw
from dw_notebook.datasets import sample_reviews
from dw_notebook.job import reading, requests
from dw_notebook.jsonl.requests import BuildError
from dw_notebook.progress.text import format_bytes, format_progress, format_summary
from dw_notebook.widgets.static import snapshot_html

PROMPT = "Sentiment of this review, one word: {review}"


def _via(proxy, server):
    return {"api_key": server.token, "base_url": proxy.base_url}


def test_the_upload_shows_as_a_phase_with_its_bytes_before_the_batch_exists(proxy, server):
    df = sample_reviews(40)
    proxy.delay("POST", "/files$", 2.0)  # the upload is under way while we look
    job = dw.submit(df, PROMPT, model="mock", max_requests=25, **_via(proxy, server))
    proxy.wait_for(lambda: proxy.count("POST", "/files$") >= 1, what="an upload")

    snap = job.snapshot()
    assert snap.phase == "uploading" and not job.batch_ids
    assert snap.sending.files_total == 2 and snap.sending.files_done < 2
    assert snap.sending.bytes_total == job.built.nbytes
    line = format_progress(snap)
    assert line.startswith("uploading |")
    sent, total = snap.sending.bytes_done, snap.sending.bytes_total
    if sent < total:
        assert f"files uploaded · {format_bytes(sent)} / {format_bytes(total)}" in line
    else:  # every byte sent, but the service has not answered: no file counts as uploaded yet
        assert f"files uploaded · {format_bytes(total)} sent, the service is checking" in line
        assert "100%" not in line
    assert format_bytes(job.built.nbytes) in snapshot_html(snap)
    widget = job.widget()
    assert widget.snapshot["phase"] == "uploading"
    assert widget.snapshot["sending"]["bytes_total"] == job.built.nbytes

    out = job.join(timeout=60)
    assert out["status"].eq("ok").all() and len(job.batch_ids) == 2
    assert job.snapshot().sending is None  # the batches' own phases from here on


def test_each_batch_is_created_as_soon_as_its_file_is_on_the_service(proxy, server):
    df = sample_reviews(60)
    proxy.delay("POST", "/files$", 3.0, times=1)  # one of the three uploads is slow
    job = dw.submit(df, PROMPT, model="mock", max_requests=20, **_via(proxy, server))

    proxy.wait_for(lambda: job.snapshot().sending.batches_done == 2, what="two batches")
    assert proxy.answered_upstream("POST", "/files$") == 2  # the slow upload is still going
    snap = job.snapshot()
    assert snap.phase == "uploading" and len(job.batch_ids) == 2
    assert "files uploaded · " in format_progress(snap)
    assert "· 2 / 3 batches created" in format_progress(snap)

    assert job.join(timeout=60)["status"].eq("ok").all()
    assert proxy.count("POST", "/files$") == 3 and proxy.count("POST", "/batches$") == 3


def test_a_cancel_during_the_upload_stops_the_batches_that_exist_and_each_new_one(
    make_server, monkeypatch
):
    slow = make_server(rate=5.0)
    with FaultProxy(slow.base_url) as proxy:
        df = sample_reviews(60)
        proxy.delay("POST", "/files$", 3.0, times=1)
        job = dw.submit(df, PROMPT, model="mock", max_requests=20, **_via(proxy, slow))
        proxy.wait_for(lambda: len(job.batch_ids) == 2, what="two batches")

        job.cancel()
        assert job.sending  # the slow upload is still going: its batch does not exist yet
        statuses = {b["status"] for b in (job._client.get_batch(i) for i in job.batch_ids)}
        assert statuses <= {"cancelling", "cancelled"}

        job.wait_submitted(timeout=30)
        out = job.join(timeout=60)
        assert len(job.batch_ids) == 3 and job.snapshot().phase == "cancelled"
        assert out["status"].isin(["ok", "cancelled", "not_run"]).all()
        assert out["status"].ne("ok").sum() > 40  # at 5 requests/s, little ran before the cancel

        slow.runner.rate = None
        # Doubleword finishes (and bills) requests in flight for up to 10 minutes after a
        # cancel, so a retry holds their rows until then: as if that time had passed
        monkeypatch.setattr(reading, "SETTLE_AFTER_CANCEL_S", 0.0)
        job.retry()  # the cancel was that submit's: the retry's batch runs
        assert job.join(timeout=60)["status"].eq("ok").all()


def test_an_upload_failure_is_raised_by_wait_and_join_and_shown(proxy, server):
    df = sample_reviews(20)
    refusal = b'{"error": {"message": "the file store is read-only", "code": "read_only"}}'
    proxy.answer("POST", "/files$", 400, refusal, {"content-type": "application/json"})
    job = dw.submit(df, PROMPT, model="mock", **_via(proxy, server))
    widget = job.widget()

    with pytest.raises(dw.APIError, match="read-only") as raised:
        job.wait(timeout=30, progress=False)
    assert any("Run the same submit cell again" in note for note in raised.value.__notes__)
    with pytest.raises(dw.APIError, match="read-only"):
        job.join(timeout=30)
    with pytest.raises(dw.APIError, match="read-only"):  # not every row "not_run"
        job.join(wait=False)
    snap = job.snapshot()
    assert snap.phase == "failed" and snap.done and "read-only" in snap.sending.error
    assert format_summary(snap).endswith(snap.sending.error)
    assert "failed while uploading" in format_summary(snap)
    assert widget.snapshot["phase"] == "failed"
    assert "read-only" in widget.snapshot["sending"]["error"]

    again = dw.submit(df, PROMPT, model="mock", **_via(proxy, server))  # the store is back
    assert again.id == job.id
    assert again.join(timeout=60)["status"].eq("ok").all()
    assert proxy.count("POST", "/batches$") == 1


def test_a_rerun_during_the_upload_gets_the_same_job_and_one_batch(proxy, server):
    df = sample_reviews(30)
    conn = _via(proxy, server)
    proxy.delay("POST", "/files$", 1.5)
    first = dw.submit(df, PROMPT, model="mock", **conn)
    proxy.wait_for(lambda: proxy.count("POST", "/files$") >= 1, what="the upload")
    assert dw.submit(df, PROMPT, model="mock", **conn) is first
    assert dw.attach(first.name, df, **conn) is first

    assert first.join(timeout=60)["status"].eq("ok").all()
    assert proxy.count("POST", "/files$") == 1
    assert proxy.count("POST", "/batches$") == 1
    assert dw.submit(df, PROMPT, model="mock", **conn).batch_ids == first.batch_ids


def test_bad_input_is_still_refused_in_the_call_before_any_upload(proxy, server):
    conn = _via(proxy, server)
    df = sample_reviews(20)
    with pytest.raises(BuildError, match="does not have: .nope."):
        dw.submit(df, "About {nope}", model="mock", **conn)
    holes = df.assign(review=df["review"].where(np.arange(len(df)) != 3))
    with pytest.raises(BuildError, match=str(holes.index[3])):
        dw.submit(holes, PROMPT, model="mock", **conn)
    with pytest.raises(BuildError, match="Unknown endpoint"):
        dw.submit(df, PROMPT, model="mock", endpoint="chatt", **conn)
    with pytest.raises(BuildError):
        dw.submit(df, "unclosed {review", model="mock", **conn)
    with pytest.raises(dw.BudgetExceededError, match="over the budget"):
        dw.submit(df, PROMPT, model="Qwen/Qwen3.5-397B-A17B", budget=1e-9, **conn)
    assert proxy.count("POST", "/files") == 0


@pytest.mark.parametrize("retry_after", [None, "0"])
def test_429_on_uploads_slows_them_down_and_retries(proxy, server, retry_after):
    df = sample_reviews(60)
    busy = b'{"error": {"message": "slow down", "code": "rate_limit_exceeded"}}'
    headers = {"content-type": "application/json"}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    proxy.answer("POST", "/files$", 429, busy, headers, times=4)
    job = dw.submit(df, PROMPT, model="mock", max_requests=20, **_via(proxy, server))
    assert job.join(timeout=60)["status"].eq("ok").all()
    assert proxy.count("POST", "/files$") == 3 + 4  # every refused upload was sent again
    assert len(list(job._client.iter_files(purpose="batch"))) == 3  # the server got each once
    assert proxy.count("POST", "/batches$") == 3


def test_the_job_holds_no_request_bytes_after_the_upload_and_rebuilds_them(make_server):
    flaky = make_server(rate=None, backend_options={"failure_rate": 0.3}, max_attempts=1)
    df = sample_reviews(60)
    job = dw.submit(df, PROMPT, model="mock", api_key=flaky.token, base_url=flaky.base_url)
    first = job.join(timeout=60)
    assert not job.built.holds_bytes
    failed = first["status"].eq("failed")
    assert failed.any()

    flaky.backend.failure_rate = 0.0
    job.retry()  # its lines are rebuilt from the frame
    merged = job.join(timeout=60)
    assert merged["status"].eq("ok").all() and merged.loc[failed, "attempt"].eq(1).all()
    assert job.review() is not None

    df.iloc[0, df.columns.get_loc("review")] = "changed after the submit"
    requests.release(job.built, job.spec, job.df, job.build_args)  # the next read rebuilds
    with pytest.raises(dw.JobError, match="changed since the submit"):
        job.built.line(0)
