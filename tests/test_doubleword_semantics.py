"""The client's promises under Doubleword's real semantics (read from its control layer): a
batch cancelled before it started, cancel on finished batches, refusals that last, growing
files whose X-Last-Line is not the lines sent, requests billed after a cancel.

Faults the local server cannot produce go through the FaultProxy in front of it.
"""

from __future__ import annotations

import time

import orjson
import pytest
from support.proxy import FaultProxy, Reply

import dw_notebook as dw
from dw_notebook.client import BatchClient
from dw_notebook.datasets import sample_reviews
from dw_notebook.job import reading
from dw_notebook.progress.text import format_progress, format_summary
from dw_notebook.ui import job_rows
from dw_notebook.widgets.static import snapshot_html

PROMPT = "Sentiment of this review, one word: {review}"
CAPACITY = orjson.dumps(
    {
        "error": "too_many_requests",
        "message": "Insufficient capacity for this completion window; try a longer one",
        "retry_after_seconds": 30,
    }
)


def _until(condition, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"never saw: {what}")
        time.sleep(0.02)


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
    assert "service busy (429, capacity)" in snapshot_html(snap)  # the saved record
    with pytest.raises(dw.ServiceBusyError, match=r"patience=4 s.*nothing is lost"):
        job.wait(timeout=15, progress=False)
    assert proxy.count("POST", "/batches$") == 0 and not job.batch_ids
    assert proxy.count("POST", "/files$") == 1  # the 60 s were never slept through

    proxy.clear()  # the service takes work again: the same cell resumes the job
    again = dw.submit(sample_reviews(10), PROMPT, model="mock", **_via(proxy, server))
    assert again.join(timeout=30)["status"].eq("ok").all()
    assert proxy.count("POST", "/batches$") == 1


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_a_cancel_during_the_submit_ends_the_job_though_the_service_says_cancelling(
    make_server,
):
    """Doubleword never populates a batch cancelled before its requests were: it reads
    `cancelling` for ever."""
    server = make_server(validation_delay=30.0)  # nothing is populated before the cancel
    with FaultProxy(server.base_url) as proxy:
        proxy.delay("POST", "/files$", 2.0, times=1)
        job = dw.submit(sample_reviews(30), PROMPT, model="mock", max_requests=10,
                        **_via(proxy, server))  # fmt: skip
        proxy.wait_for(lambda: len(job.batch_ids) >= 1, what="a batch")
        job.cancel()
        job.wait_submitted(timeout=30)

        job.wait(timeout=20, progress=False)  # ended, though the service says "cancelling"
        with BatchClient(proxy.base_url, server.token) as client:
            raw = [client._object("GET", f"batches/{i}") for i in job.batch_ids]
            assert {b["status"] for b in raw} == {"cancelling"}
        snap = job.snapshot()
        assert snap.done and snap.phase == "cancelled" and snap.completed == 0
        assert "nothing ran" in snap.message
        assert job.join(timeout=5)["status"].eq("not_run").all()


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_cancel_leaves_finished_batches_alone(proxy, server):
    job = dw.submit(sample_reviews(20), PROMPT, model="mock", max_requests=10,
                    **_via(proxy, server))  # fmt: skip
    assert job.join(timeout=30)["status"].eq("ok").all()

    job.cancel()  # Doubleword would accept it and relabel both batches `cancelled`
    assert proxy.count("POST", "/cancel$") == 0
    with BatchClient(proxy.base_url, server.token) as client:
        assert {client.get_batch(i)["status"] for i in job.batch_ids} == {"completed"}
    assert job.snapshot().phase == "completed"


def _head(data: bytes, n: int) -> bytes:
    return b"".join(data.splitlines(keepends=True)[:n])


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_rows_in_flight_at_a_cancel_are_not_sent_again_when_their_lines_come_late(
    make_server, monkeypatch
):
    """Doubleword reads `cancelled` at once; requests in flight finish afterwards, are written
    to the output file and billed. A retry must not send them again."""
    server = make_server(rate=40.0)
    server.faults.late_completion(requests=3, delay=3600)  # on the server's clock
    job = dw.submit(sample_reviews(300), PROMPT, model="Qwen/Qwen3-14B-FP8", budget=None,
                    api_key=server.token, base_url=server.base_url)  # fmt: skip
    _until(lambda: job.refresh().completed >= 5, "five answers")
    job.cancel()
    job.wait(timeout=20, progress=False)
    answered = int(job.join()["status"].eq("ok").sum())
    assert job.snapshot().phase == "cancelled" and answered < 297

    with pytest.raises(dw.JobError, match=r"rows of batch .* may still be answered and billed"):
        job.retry()  # 3 requests are still in flight: sending them again would pay twice
    with BatchClient(server.base_url, server.token) as client:
        assert len(list(client.iter_batches())) == 1
        server.clock.advance(3600)  # the requests in flight finish, after `cancelled`
        first = job.batch_ids[0]
        _until(
            lambda: client.get_batch(first)["request_counts"]["completed"] == answered + 3,
            "the late answers",
        )
        monkeypatch.setattr(reading, "SETTLE_AFTER_CANCEL_S", 0.0)  # as if 10 min had passed
        out = job.retry().join(timeout=60)
        assert out["status"].eq("ok").all()
        completed = [b["request_counts"]["completed"] for b in client.iter_batches()]
        assert sorted(completed) == sorted([answered + 3, 300 - answered - 3])  # none twice


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_a_lagging_replica_with_fewer_lines_than_counted_is_not_cached_nor_retried(proxy, server):
    """GETs are served from a read replica: a file may hold fewer lines than the batch counts
    for a moment. Its rows are neither cached as not run nor sent again."""
    shown = 12

    def lagging(reply: Reply, path: str) -> Reply:
        if b'"response"' not in reply.body:  # the request file, or the (empty) error file
            return reply
        return Reply(reply.status, reply.headers, _head(reply.body, shown))

    lines = proxy.rewrite("GET", r"/files/[^/]+/content$", lagging)
    job = dw.submit(sample_reviews(20), PROMPT, model="mock", **_via(proxy, server))
    assert job.join(timeout=30)["status"].eq("ok").sum() == shown

    with pytest.raises(dw.JobError, match=r"8 rows of batch .* may still be answered and billed"):
        job.retry()
    assert proxy.count("POST", "/batches$") == 1

    proxy.rules.remove(lines)  # the replica caught up
    assert job.join()["status"].eq("ok").all()
    with pytest.raises(dw.JobError, match="nothing to retry"):
        job.retry()
    assert proxy.count("POST", "/batches$") == 1


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_partial_reads_on_after_the_lines_received_not_x_last_line(make_server):
    """Doubleword's X-Last-Line is computed from the batch's counts, not the lines sent."""
    server = make_server(rate=20.0, shuffle=False)
    with FaultProxy(server.base_url) as proxy:
        job = dw.submit(sample_reviews(30), PROMPT, model="mock", **_via(proxy, server))
        proxy.wait_for(lambda: job.refresh().completed >= 3, what="three answers")
        output_file = job._tracker.batches[job.batch_ids[0]]["output_file_id"]

        def ahead(reply: Reply, path: str) -> Reply:
            if output_file not in path or reply.headers.get("x-last-line") is None:
                return reply
            ahead = int(reply.headers["x-last-line"]) + 5  # the count ran ahead of the lines
            return Reply(reply.status, {**reply.headers, "x-last-line": str(ahead)}, reply.body)

        proxy.rewrite("GET", r"/files/[^/]+/content$", ahead, times=1)
        first = job.partial()
        assert 0 < first["status"].eq("ok").sum() < 30
        job.wait(timeout=30, progress=False)
        assert job.partial()["status"].eq("ok").all()


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_costs_and_tokens_come_from_the_analytics_route(server):
    """Doubleword batch objects carry no usage: tokens and cost are in /batches/{id}/analytics."""
    job = dw.submit(sample_reviews(24), PROMPT, model="Qwen/Qwen3-14B-FP8", max_requests=8,
                    api_key=server.token, base_url=server.base_url)  # fmt: skip
    out = job.join(timeout=30)
    with BatchClient(server.base_url, server.token) as client:
        assert all("usage" not in client._object("GET", f"batches/{i}") for i in job.batch_ids)
        billed = [client.batch_analytics(i) for i in job.batch_ids]
    snap = job.snapshot()
    assert snap.input_tokens == sum(b["input_tokens"] for b in billed) > 0
    assert snap.output_tokens == out["completion_tokens"].sum() > 0
    assert snap.actual_cost == pytest.approx(sum(b["cost"] for b in billed)) and snap.actual_cost
    assert "actual $" in format_progress(snap)

    listed = dw.list_jobs(api_key=server.token, base_url=server.base_url)
    mine = listed[listed["job_id"] == job.id]
    assert mine["input_tokens"].sum() == snap.input_tokens
    assert mine["cost_usd"].sum() == pytest.approx(snap.actual_cost)
    rows = job_rows(listed)
    assert rows[0]["cost"] == pytest.approx(snap.actual_cost)


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_a_read_outage_during_a_rerun_creates_nothing(server):
    """Doubleword answers 404 for any storage error on a GET, while creates still work."""
    conn = {"api_key": server.token, "base_url": server.base_url}
    df = sample_reviews(12)
    job = dw.submit(df, PROMPT, model="mock", **conn)
    job.wait_submitted(timeout=20)
    server.faults.read_outage(seconds=600)  # on the server's clock

    again = dw.submit(df, PROMPT, model="mock", **conn)  # the same cell, run again
    assert again.id == job.id and again.batch_ids == job.batch_ids
    with BatchClient(server.base_url, server.token) as client:
        assert len(list(client.iter_batches())) == 1  # nothing created anew

    again.poll_interval = 0.05
    with pytest.raises(TimeoutError):  # polls see 404s: shown, polled again, never "gone"
        again.wait(timeout=1.5, progress=False)
    snap = again.snapshot()
    assert snap.poll_error.startswith(f"cannot see batch {job.batch_ids[0]} on ")
    assert "still polling, nothing is sent again" in snap.poll_error

    server.clock.advance(600)  # the outage ends
    assert again.join(timeout=30)["status"].eq("ok").all()


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_result_files_that_read_404_in_an_outage_are_not_taken_as_deleted(server):
    job = dw.submit(sample_reviews(6), PROMPT, model="mock",
                    api_key=server.token, base_url=server.base_url)  # fmt: skip
    job.wait(timeout=30, progress=False)
    server.faults.read_outage(seconds=600)
    with pytest.raises(dw.JobError, match=r"answers 404 for the batch too.*join again later") as e:
        job.join()
    assert not isinstance(e.value, dw.MissingResultFileError)
    server.clock.advance(600)
    assert job.join()["status"].eq("ok").all()


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_a_rerun_whose_batches_all_read_404_is_refused_without_force(proxy, server):
    """When neither a batch nor the list shows the job's batches, a re-run creates nothing
    unless force=True."""
    df = sample_reviews(8)
    job = dw.submit(df, PROMPT, model="mock", **_via(proxy, server))
    job.join(timeout=30)
    proxy.answer("GET", r"/batches/[^/]+$", 404, f"Batch with ID {job.batch_ids[0]} not found",
                 times=None)  # fmt: skip
    proxy.answer("GET", r"/batches$", 200, b'{"object":"list","data":[],"has_more":false}',
                 {"content-type": "application/json"}, times=None)  # fmt: skip
    with pytest.raises(dw.JobError, match=r"answers 404 for every batch.*force=True"):
        dw.submit(df, PROMPT, model="mock", **_via(proxy, server))
    assert proxy.count("POST", "/batches$") == 1
    forced = dw.submit(df, PROMPT, model="mock", force=True, **_via(proxy, server))
    forced.wait_submitted(timeout=20)
    assert proxy.count("POST", "/batches$") == 2


PRICED = "Qwen/Qwen3-14B-FP8"  # 24h: $0.02 in, $0.20 out per 1M tokens, on both sides


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_the_budget_counts_every_request_at_its_max_tokens(proxy, server):
    """The service's estimate ignores max_tokens (output ≈ its history, or 1.1 × input): a job
    whose answers may be 2,000 tokens long is checked at 2,000 tokens each."""
    df = sample_reviews(20)
    with pytest.raises(dw.BudgetExceededError, match=r"can cost at most \$0\.008"):
        dw.submit(df, PROMPT, model=PRICED, max_tokens=2000, budget=0.002, **_via(proxy, server))
    assert proxy.count("POST", "/files$") == 0  # refused before anything was sent


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_a_short_job_is_not_refused_on_the_services_history_of_long_answers(proxy, server):
    def long_history(reply: Reply, path: str) -> Reply:
        answer = reply.json()
        answer["total_estimated_cost"] = "5.000000"  # the model's recent answers ran long
        return Reply(reply.status, reply.headers, orjson.dumps(answer))

    proxy.rewrite("GET", r"/cost-estimate$", long_history)
    job = dw.submit(sample_reviews(20), PROMPT, model=PRICED, max_tokens=5, budget=0.01,
                    **_via(proxy, server))  # fmt: skip
    assert job.join(timeout=30)["status"].eq("ok").all()
    assert proxy.count("GET", r"/cost-estimate$") == 1


LONG = {
    "type": "object",
    "properties": {"essay": {"type": "string", "minLength": 8000}},
    "required": ["essay"],
}


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_a_running_job_whose_measured_spend_passes_the_budget_is_cancelled(make_server):
    """Answers far longer than any estimate: the analytics show the spend, and the job stops
    itself once it passes budget=."""
    server = make_server(rate=25.0)
    job = dw.submit(sample_reviews(150), PROMPT, model=PRICED, response_format=LONG,
                    budget=0.01, api_key=server.token, base_url=server.base_url)  # fmt: skip
    job.poll_interval = 0.1
    job.wait(timeout=20, progress=False)
    snap = job.snapshot()
    assert snap.phase == "cancelled" and 0 < snap.completed < 150
    assert "passed budget=$0.0100" in snap.message
    assert "passed budget=$0.0100" in job.widget().snapshot["message"]
    assert snap.actual_cost > 0.01  # what ran before the cancel is billed


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_no_capacity_at_create_shows_and_stops_at_patience_with_nothing_lost(proxy, server):
    """Doubleword refuses a create with 429, Retry-After: 60, while a window has no capacity
    (which can last hours). The job says so at once and stops at patience=."""
    server.faults.capacity(seconds=3600)
    df = sample_reviews(10)
    job = dw.submit(df, PROMPT, model="mock", patience=3, **_via(proxy, server))
    _until(lambda: job.snapshot().busy, "the refusal in the progress", timeout=10)
    assert job.snapshot().busy.startswith("service busy (429, capacity): retrying in ")
    with pytest.raises(dw.ServiceBusyError, match=r"POST batches .*patience=3 s"):
        job.wait(timeout=15, progress=False)
    assert proxy.count("POST", "/batches$") == 1 and not job.batch_ids

    server.clock.advance(3600)  # capacity again: the same cell resumes, uploading nothing new
    again = dw.submit(df, PROMPT, model="mock", **_via(proxy, server))
    assert again.join(timeout=30)["status"].eq("ok").all()
    assert proxy.count("POST", "/files$") == 1 and proxy.count("POST", "/batches$") == 2


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_refused_polls_show_and_stop_waiting_at_patience(make_server):
    server = make_server(rate=5.0)
    job = dw.submit(sample_reviews(30), PROMPT, model="mock", patience=2,
                    api_key=server.token, base_url=server.base_url)  # fmt: skip
    job.wait_submitted(timeout=20)
    server.faults.rate_limit(seconds=3600, retry_after=60, path="/v1/batches")
    job.poll_interval = 0.1
    with pytest.raises(dw.JobError, match=r"service busy \(429, rate limit\).*patience=2 s"):
        job.wait(timeout=15, progress=False)
    assert "service busy (429" in job.snapshot().message
    assert server.faults.fired == 1  # Retry-After: 60 is honoured: no poll until then
    server.clock.advance(3600)
    assert job.join(timeout=30)["status"].eq("ok").all()


# -- smaller things (item 9) ------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_a_pilot_leaves_a_1h_window_without_capacity_at_once(proxy, server):
    """Doubleword refuses a window per model with 429 'Insufficient capacity for 1h completion
    window' (Retry-After: 60): the pilot takes the job's own window instead of waiting."""
    refusal = orjson.dumps({"error": "too_many_requests", "message": (
        "Insufficient capacity for 1h completion window. The following models are currently "
        "at capacity: mock. Try again later or use a longer completion window.")})  # fmt: skip
    proxy.answer("POST", "/batches$", 429, refusal, {"Retry-After": "60"}, times=1)
    job = dw.submit(sample_reviews(40), PROMPT, model="mock", pilot=5, **_via(proxy, server))
    job.wait_submitted(timeout=10)  # not a minute's wait
    assert job.spec["pilot"]["window"] == "24h" and len(job.batch_ids) == 1
    assert proxy.count("POST", "/batches$") == 2


def test_moderations_are_refused_before_anything_is_sent_to_doubleword():
    with pytest.raises(dw.JobError, match=r"does not batch /v1/moderations.*nothing was sent"):
        dw.submit(sample_reviews(3), model="omni-moderation-latest", endpoint="moderations",
                  input_column="review", api_key="k",
                  base_url="https://api.doubleword.ai/v1")  # fmt: skip


def test_file_limits_follow_the_service():
    from dw_notebook.config import Connection, limits_for

    doubleword = limits_for(Connection("https://api.doubleword.ai/v1", "k"))
    openai = limits_for(Connection("https://api.openai.com/v1", "k"))
    assert doubleword.max_file_bytes == 100 * 1024 * 1024
    assert openai.max_file_bytes == 200 * 1024 * 1024
    assert "/v1/moderations" in openai.endpoints and "/v1/moderations" not in doubleword.endpoints


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_a_batch_failed_by_the_engine_shows_its_reason(proxy, server):
    """The engine may fail a batch with errors = {"message": ...}, which is not a list."""

    def failed(reply: Reply, path: str) -> Reply:
        batch = reply.json()
        batch.update(status="failed", errors={"message": "model backend unavailable"})
        return Reply(reply.status, reply.headers, orjson.dumps(batch))

    proxy.rewrite("GET", r"/batches/[^/]+$", failed)
    job = dw.submit(sample_reviews(4), PROMPT, model="mock", **_via(proxy, server))
    job.wait(timeout=20, progress=False)
    assert job.snapshot().extra["errors"][0]["message"] == "model backend unavailable"
    assert "model backend unavailable" in format_summary(job.snapshot())


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_attach_of_an_unknown_name_says_so_in_our_words(proxy, server):
    proxy.answer("GET", r"/batches/[^/]+$", 400, "Invalid batch ID format", times=None)
    with pytest.raises(dw.JobError, match=r"no job or batch called 'my run'.*dw\.jobs\(\)"):
        dw.attach("my run", **_via(proxy, server))


def test_ended_at_is_the_stamp_of_the_state_a_batch_ended_in():
    """Doubleword sets expired_at on any batch viewed past its window, finished or not."""
    from dw_notebook.job.listing import _apply

    row = {"batch_id": "b"}
    batch = {"id": "b", "status": "completed", "expired_at": 100, "completed_at": 250,
             "request_counts": {"total": 1, "completed": 1, "failed": 0}}  # fmt: skip
    _apply(row, batch)
    assert row["ended_at"] == 250
