"""The eight paths of issue 10 that paid twice or hung (all but the output-file-gone retry,
which lives with the result tests): each ends with the counts of what it cost."""

from __future__ import annotations

import math

import pytest
from counts import PROMPT, Tally, tally
from kill import run_kernel, submit_and_kill

import dw_notebook as dw
from dw_notebook.client import BatchClient
from dw_notebook.datasets import sample_reviews
from dw_notebook.jsonl.requests import BuildError

CREATES = "^/batches$"


def _submit(proxy, server, rows=30, max_requests=10, **options):
    return dw.submit(
        sample_reviews(rows), PROMPT, model="mock", name="killed", max_requests=max_requests,
        api_key=server.token, base_url=proxy.base_url, **options,
    ).wait_submitted()  # fmt: skip


# 1 -----------------------------------------------------------------------------------------


def test_1_killed_while_a_create_answer_is_withheld_the_rerun_creates_no_second_batch(
    server, proxy, report
):
    proxy.hold("POST", CREATES, 30, skip=1)  # chunk 1's batch is created; its answer never comes
    submit_and_kill(proxy, server.token, 30, 10,
                    lambda: proxy.answered_upstream("POST", CREATES, action="hold"))  # fmt: skip
    proxy.clear()
    job = _submit(proxy, server)
    job.poll_interval = 0.05
    out = job.join(timeout=60)
    t = tally(server, out, 30)
    assert t.batches == 3
    report(t, fault="kill -9 while chunk 1's POST /batches answer is held (3 chunks); re-run",
           message="(none: the re-run finds chunk 1's batch by its metadata)")  # fmt: skip


# 3 -----------------------------------------------------------------------------------------

MODEL = "Qwen/Qwen3.5-397B-A17B"


@pytest.fixture
def no_local_prices(tmp_path, monkeypatch):
    (tmp_path / "prices.json").write_text('{"models": {}}')
    monkeypatch.setenv("DW_NOTEBOOK_PRICES", str(tmp_path / "prices.json"))


def test_3_budget_is_checked_for_the_whole_split_job_before_the_first_create(
    make_server, tmp_path, monkeypatch, report
):
    df = sample_reviews(40)
    local_usd = dw.estimate(dw.prepare(df, PROMPT, model=MODEL)).usd
    (tmp_path / "prices.json").write_text('{"models": {}}')
    monkeypatch.setenv("DW_NOTEBOOK_PRICES", str(tmp_path / "prices.json"))
    server = make_server(rate=None)
    conn = {"api_key": server.token, "base_url": server.base_url}
    budget = local_usd * 0.5  # over one chunk's service estimate, under the whole job's
    messages = []
    for _ in range(2):  # the re-run of the cell is refused the same way
        with pytest.raises(dw.BudgetExceededError) as refused:
            dw.submit(
                df, PROMPT, model=MODEL, budget=budget, max_requests=20, **conn
            ).wait_submitted()
        messages.append(str(refused.value))
        assert tally(server, None, 0).batches == 0
    if server.dialect == "doubleword":
        assert "the service estimates" in messages[0] and "for the whole job" in messages[0]
    else:  # no service estimate and no local price: never a silent pass
        assert messages[0].startswith(f"no known price for model {MODEL!r}")
        assert "budget=None" in messages[0] and "price=(input, output)" in messages[0]
    assert messages[0] == messages[1]
    with BatchClient(server.base_url, server.token) as client:
        assert [f for f in client.iter_files() if f.get("purpose") == "batch"] == []
    t = tally(server, None, 0)
    report(t, fault=f"budget=${budget:.4f} on a 2-chunk job whose model has no local price",
           message=messages[0], scenario=f"test_3_budget_whole_job[{server.dialect}]")  # fmt: skip


def test_3_an_explicit_price_or_no_budget_lets_an_unpriced_model_through(server, no_local_prices):
    conn = {"api_key": server.token, "base_url": server.base_url}
    df = sample_reviews(10)
    job = dw.submit(df, PROMPT, model=MODEL, budget=1.0, price=(0.3, 1.8), **conn)
    assert job.estimated_cost is not None and job.estimated_cost < 1.0
    assert dw.submit(df, PROMPT + "!", model=MODEL, budget=None, **conn).wait_submitted().batch_ids


# 4 -----------------------------------------------------------------------------------------


def test_4_a_job_with_nothing_to_send_is_refused_with_the_reason(server, report):
    conn = {"api_key": server.token, "base_url": server.base_url}
    with pytest.raises(BuildError) as empty:
        dw.submit(sample_reviews(0), PROMPT, model="mock", **conn)
    assert str(empty.value) == "nothing to send: the DataFrame has no rows"
    df = sample_reviews(3)
    df["review"] = None
    with pytest.raises(BuildError) as skipped:
        dw.submit(df, PROMPT, model="mock", missing="skip", **conn)
    assert str(skipped.value) == (
        "nothing to send: missing='skip' skipped every row (3: 'r00000', 'r00001', 'r00002') "
        "because a column the prompt uses is empty; fill the values or use missing='empty'"
    )
    t = tally(server, None, 0)
    report(t, fault="an empty DataFrame; missing='skip' skipping every row",
           message=f"{empty.value} / {skipped.value}")  # fmt: skip


# 5 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_df", [True, False])
def test_5_attach_after_the_kernel_stopped_between_upload_and_create_resumes(
    server, proxy, report, with_df
):
    proxy.drop("POST", CREATES, forward=False, times=None)  # no batch is ever created
    with pytest.raises(dw.JobError, match="run the same cell again"):
        _submit(proxy, server)
    proxy.clear()
    df = sample_reviews(30)
    job = dw.attach("killed", df if with_df else None, api_key=server.token,
                    base_url=proxy.base_url)  # fmt: skip
    job.poll_interval = 0.05
    job.wait(timeout=60)
    out = job.join() if with_df else None
    assert proxy.count("POST", "^/files$") == 3  # the uploads were reused
    t = tally(server, out, 30)
    if not with_df:
        t.rows, t.rows_lost = (
            30,
            30
            - sum(job._client.get_batch(b)["request_counts"]["completed"] for b in job.batch_ids),
        )
    report(t, fault="the submit stopped after 3 uploads, before any create; dw.attach("
           + ("name, df)" if with_df else "name) without the DataFrame"),
           message="(none: attach creates the 3 batches from the recorded uploads)")  # fmt: skip


def test_5_attach_resumes_a_job_whose_budget_was_checked_with_a_given_price(
    server, proxy, no_local_prices
):
    proxy.drop("POST", CREATES, forward=False, times=None)
    with pytest.raises(dw.JobError, match="run the same cell again"):
        dw.submit(sample_reviews(10), PROMPT, model=MODEL, name="priced", budget=1.0,
                  price=(0.3, 1.8), api_key=server.token,
                  base_url=proxy.base_url).wait_submitted()  # fmt: skip
    proxy.clear()
    job = dw.attach("priced", api_key=server.token, base_url=proxy.base_url)
    assert len(job.batch_ids) == 1  # the budget passed at submit is not refused on resume


def test_5_attach_that_cannot_resume_says_in_one_line_what_to_run(server, proxy, report):
    proxy.hold("POST", "^/files$", 30, skip=1)  # chunk 1's upload answer never comes
    submit_and_kill(proxy, server.token, 30, 10,
                    lambda: proxy.answered_upstream("POST", "^/files$", action="hold"))  # fmt: skip
    proxy.clear()
    with pytest.raises(dw.JobError) as refused:
        dw.attach("killed", api_key=server.token, base_url=proxy.base_url)
    assert str(refused.value) == (
        "job 'killed' stopped half-way through its submit (3 of 3 batches never created); run "
        "dw.attach('killed', df) with the DataFrame it was submitted with, or re-run the submit "
        "cell, to create the rest without paying twice"
    )
    assert "\n" not in str(refused.value)
    report(tally(server, None, 0), fault="kill -9 while chunk 1's upload answer is held; "
           "dw.attach(name) without the DataFrame", message=str(refused.value))  # fmt: skip


# 6 -----------------------------------------------------------------------------------------


def test_6_attach_after_a_kill_in_the_middle_of_a_split_submit_joins_every_row(
    server, proxy, report
):
    proxy.hold("POST", CREATES, 30, skip=1)
    submit_and_kill(proxy, server.token, 30, 10,
                    lambda: proxy.answered_upstream("POST", CREATES, action="hold"))  # fmt: skip
    proxy.clear()
    job = dw.attach("killed", sample_reviews(30), api_key=server.token, base_url=proxy.base_url)
    job.poll_interval = 0.05
    out = job.join(timeout=60)
    t = tally(server, out, 30)
    assert t.batches == 3
    report(t, fault="kill -9 while chunk 1's create answer is held; dw.attach(name, df)",
           message="(none: attach finds chunk 1's batch and creates chunk 2)")  # fmt: skip


@pytest.mark.parametrize("dialect", ["openai"])
def test_6_waiting_on_a_job_with_chunks_never_created_fails_fast(server):
    job = dw.submit(sample_reviews(20), PROMPT, model="mock", name="half", max_requests=10,
                    api_key=server.token, base_url=server.base_url).wait_submitted()  # fmt: skip
    job._records = job._records[:1]  # as a kernel that stopped after chunk 0 saw it
    with pytest.raises(dw.JobError) as refused:
        job.join(timeout=30)
    assert str(refused.value) == (
        "job 'half' has 1 batch never created (its submit stopped half-way); run "
        "dw.attach('half', df) with the DataFrame it was submitted with, or re-run the submit "
        "cell, to create them without paying twice"
    )


# 7 -----------------------------------------------------------------------------------------

FIRST_KERNEL = """
import sys, dw_notebook as dw
from dw_notebook.datasets import sample_reviews
dw.local(rate=200.0)
job = dw.submit(sample_reviews(20), prompt="Sentiment: {review}", model="mock", name="first")
job.wait_submitted()
print("SUBMITTED", flush=True)
sys.stdin.read()  # keeps running until the test closes stdin
"""


def test_7_a_second_kernel_uses_the_first_kernels_local_server(report):
    from dw_notebook.local import SharedServer

    first = run_kernel(FIRST_KERNEL)
    try:
        assert "SUBMITTED" in first.stdout.readline(), first.stderr.read()
        job = dw.attach("first", sample_reviews(20))
        out = job.join(timeout=30)
        assert isinstance(dw.local(), SharedServer) and dw.local().pid == first.pid
        first.kill()  # the first kernel dies: this one takes over its data and its batches
        first.wait()
        assert not isinstance(dw.local(), SharedServer)
        assert dw.attach("first", sample_reviews(20)).join(timeout=30)["status"].eq("ok").all()
    finally:
        dw.stop_local()
        first.kill()
        first.wait()
    t = Tally(
        batches_per_chunk=1, chunks=1, rows=20, rows_lost=int((~out["status"].eq("ok")).sum())
    )
    report(t, fault="two kernels: the second attaches while the first runs the embedded server",
           message="(none: the second kernel uses the first one's server)")  # fmt: skip


def test_7_a_batch_unknown_to_the_server_polled_is_a_clear_error_not_a_wait(make_server, report):
    first, other = make_server(), make_server()
    job = dw.submit(sample_reviews(5), PROMPT, model="mock", name="elsewhere",
                    api_key=first.token, base_url=first.base_url).wait_submitted()  # fmt: skip
    moved = dw.attach("elsewhere", sample_reviews(5), api_key=other.token, base_url=other.base_url)
    moved.poll_interval = 0.05
    with pytest.raises(dw.JobError) as lost:
        moved.join(timeout=20)
    assert str(lost.value) == (
        f"batch {job.batch_ids[0]} of job 'elsewhere' is not known to {other.base_url}: it was "
        f"created on {first.base_url}; attach with base_url={first.base_url!r} and that "
        "service's API key"
    )
    assert moved.refresh().poll_error == str(lost.value)  # the widget shows the same
    t = tally(first, None, 0)
    report(
        t,
        fault="dw.attach on another server than the one the batch was created on",
        message=str(lost.value)
        .replace(first.base_url, "<A>")
        .replace(other.base_url, "<B>")
        .replace(job.batch_ids[0], "<id>"),
    )


def test_7_a_local_batch_this_kernels_server_lacks_says_where_it_lives(monkeypatch):
    job = dw.submit(sample_reviews(3), PROMPT, model="mock", name="mine").wait_submitted()
    dw.stop_local()
    monkeypatch.setenv("DW_NOTEBOOK_LOCAL_PERSIST", "0")  # the next one starts blind
    try:
        again = dw.attach("mine", sample_reviews(3))
        with pytest.raises(dw.JobError) as lost:
            again.join(timeout=20)
        here = dw.local().base_url
    finally:
        dw.stop_local()
    assert str(lost.value) == (
        f"batch {job.batch_ids[0]} of job 'mine' is not known to {here}: it was created by the "
        "embedded local server of another kernel, or of an earlier one whose data this server "
        "does not have. Keep that kernel running (this kernel then uses its server), or stop "
        "it: dw.stop_local() here, then dw.attach again, and this kernel's server takes over "
        "its data"
    )


# 8 -----------------------------------------------------------------------------------------

PORTAL = b"<html><body>Please sign in to the hotel wifi</body></html>"


def test_8_a_200_that_is_not_json_is_an_api_error_naming_url_status_and_body(server, proxy, report):
    proxy.answer("POST", "^/files$", 200, PORTAL, {"content-type": "text/html"})
    with pytest.raises(dw.APIError) as bad:
        _submit(proxy, server)
    assert bad.value.status_code == 200
    assert str(bad.value) == (
        f"200: an answer that is not JSON from POST {proxy.base_url}/files: "
        "'<html><body>Please sign in to the hotel wifi</body></html>'"
    )
    report(tally(server, None, 0), fault="POST /files answered 200 with an HTML captive portal",
           message=str(bad.value).replace(proxy.base_url, "<base_url>"))  # fmt: skip


def test_8_polls_survive_non_json_answers_and_join_completes(server, proxy, report):
    job = _submit(proxy, server, rows=10)
    job.poll_interval = 0.05
    proxy.answer("GET", "^/batches/", 200, PORTAL, {"content-type": "text/html"}, times=3)
    snapshot = job.refresh()  # never raises
    assert snapshot.poll_error.startswith("200: an answer that is not JSON from GET ")
    out = job.join(timeout=60)
    shown = snapshot.poll_error.replace(proxy.base_url, "<base_url>")
    shown = shown.replace(job.batch_ids[0], "<id>")
    report(tally(server, out, 10), fault="3 polls answered 200 with an HTML captive portal",
           message=f"progress shows: {shown} (then recovers)")  # fmt: skip


@pytest.mark.parametrize("value", ["NaN", "inf", "-5", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_8_an_odd_retry_after_falls_back_to_backoff(server, proxy, value):
    proxy.answer("GET", "^/models$", 429, b'{"error":"busy"}', {"retry-after": value}, times=2)
    slept = []
    with BatchClient(proxy.base_url, server.token, sleep=slept.append) as client:
        assert client.list_models()
    assert len(slept) == 2 and all(math.isfinite(s) and 0 <= s <= 30 for s in slept)
