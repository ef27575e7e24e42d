"""One record per run, honest figures: a retry keeps the whole job's figures and gets its own
output; costs without a price say so; the first display tells the job's real state."""

from __future__ import annotations

import time

from test_pilot import sent_requests

import dw_notebook as dw
from dw_notebook.datasets import sample_reviews
from dw_notebook.progress.text import format_summary

from .conftest import RecordingPublisher

PROMPT = "Sentiment of this review, one word: {review}"


def _conn(srv):
    return {"api_key": srv.token, "base_url": srv.base_url}


def _outputs(publisher: RecordingPublisher) -> dict[str, dict]:
    """display id -> the latest data shown there, for outputs made by this test (a widget of an
    earlier test can still be finishing on its poller thread)."""
    latest: dict[str, dict] = {}
    for message in publisher.published:
        display_id = message["transient"]["display_id"]
        if not message["update"] or display_id in latest:
            latest[display_id] = message["data"]
    return latest


def test_a_retry_gets_its_own_output_and_the_job_keeps_every_attempt(make_server, shell):
    flaky = make_server(rate=None, backend_options={"failure_rate": 0.3}, max_attempts=1)
    df = sample_reviews(80)
    job = dw.submit(df, prompt=PROMPT, model="mock", **_conn(flaky))
    job._ipython_display_()  # the submit cell's output
    failed = int(job.join(timeout=30)["status"].eq("failed").sum())
    assert 0 < failed < 80
    flaky.backend.failure_rate = 0.0
    job.retry()._ipython_display_()  # the retry cell's output
    first_look = job.snapshot().for_attempt(1)
    assert first_look.total == failed  # the rows sent, before the service has counted them
    job.join(timeout=30)
    job.view.flush()

    whole = job.snapshot()
    assert (whole.total, whole.completed, whole.failed, whole.recovered) == (80, 80, 0, failed)
    assert [(a.attempt, a.total, a.completed) for a in whole.attempts] == [
        (0, 80, 80 - failed),
        (1, failed, failed),
    ]
    # once joined, the rows by outcome; recovered counts the rows a retry gave a parsed answer
    rows = f"80 rows: 80 answered · 0 failed · 0 missing ({failed} recovered on retry 1)"
    assert rows in format_summary(whole)

    assert len(_outputs(shell)) == 2, _debug(shell)
    submit_cell, retry_cell = list(_outputs(shell).values())
    assert (
        f">80 rows: 80 answered · 0 failed · 0 missing · {failed} recovered on retry 1<"
        in (submit_cell["text/html"])
    )
    assert 'data-testid="dw-percent" style="font-weight:700">100%<' in submit_cell["text/html"]
    assert "first run" in submit_cell["text/html"] and "retry 1" in submit_cell["text/html"]
    assert f"{failed} / {failed} done" in retry_cell["text/html"]
    assert "80 / 80" not in retry_cell["text/html"]
    assert " · retry 1 completed" in retry_cell["text/plain"]

    retry_id = list(_outputs(shell))[1]
    sent = sum(m["transient"]["display_id"] == retry_id for m in shell.published)
    for _ in range(3):  # the job polls on: the ended retry's output is left as it is
        time.sleep(0.05)
        job.refresh()
    assert sum(m["transient"]["display_id"] == retry_id for m in shell.published) == sent


def test_simulated_cost_is_not_a_price_and_tokens_are_counted(server, shell, request):
    job = dw.submit(sample_reviews(12), prompt=PROMPT, model="mock", **_conn(server))
    snap = job.join(timeout=30) is not None and job.snapshot()
    assert "cost: n/a (simulated)" in format_summary(snap)
    assert "$0.00" not in format_summary(snap)
    assert snap.input_tokens and snap.input_tokens > 0 and snap.output_tokens > 0
    assert "tokens: " in format_summary(snap)


def test_the_first_display_of_an_attached_job_tells_its_real_state(server, shell):
    conn = _conn(server)
    df = sample_reviews(10)
    job = dw.submit(df, prompt=PROMPT, model="mock", **conn)
    job.join(timeout=30)
    again = dw.attach(job.batch_ids[0], df, **conn)
    widget = again.widget()
    first = widget.snapshot
    assert first["phase"] == "completed" and first["percent"] == 100
    assert "validating" not in first["phase"]


def _debug(publisher):
    return [(m["transient"]["display_id"][:6], m["update"], m["data"].get("text/plain", "")[:50])
            for m in publisher.published]  # fmt: skip


def test_the_builder_code_submits_the_same_job(conn, shell):
    """The code a submitted builder leaves is equivalent: running it finds the same job."""
    from pydantic import BaseModel

    class Label(BaseModel):
        sentiment: str

    df = sample_reviews(6)
    form = dw.builder(df, template="Label: {review}", model="mock", response_format=Label,
                      system="You label reviews.", **conn)  # fmt: skip
    form.max_tokens = 40
    job = form.submit({})
    code = form.summary().text.split("Same as: ", 1)[1]
    assert "api_key" not in code and conn["api_key"] not in form.summary().html
    assert "max_tokens=40" in code and "window='24h'" in code and "response_format=Label" in code
    namespace = {"dw": dw, "df": df, "Label": Label}
    with_key = code.replace("\n)", f"\n    api_key={conn['api_key']!r},\n)")
    exec(with_key, namespace)  # noqa: S102
    assert namespace["job"].id == job.id


def test_try_10_rows_first_submits_a_pilot_and_its_code_says_so(conn, server, shell):
    df = sample_reviews(60)
    form = dw.builder(df, template="Label: {review}", model="mock", **conn)
    form.pilot = True
    assert "10 rows first, the rest when you proceed" in form.estimate
    job = form.submit({"pilot_by": "product"}).wait_submitted()
    assert (job.spec["pilot"]["n"], job.spec["pilot"]["by"]) == (10, "product")
    counts, batches = sent_requests(server)
    assert len(batches) == 1 and sum(counts.values()) == 10  # only the pilot was sent
    record = form.summary()
    assert "pilot 10 by 'product'" in record.text and "10 rows first, spread over product" in (
        record.html)  # fmt: skip
    code = record.text.split("Same as: ", 1)[1]
    assert "pilot=10" in code and "pilot_by='product'" in code
    namespace = {"dw": dw, "df": df}
    exec(code.replace("\n)", f"\n    api_key={conn['api_key']!r},\n)"), namespace)  # noqa: S102
    assert namespace["job"].id == job.id and len(sent_requests(server)[1]) == 1


def test_retry_then_join_in_one_cell_still_leaves_the_retry_its_own_output(
    make_server, shell, monkeypatch
):
    monkeypatch.setattr("dw_notebook.job.core.in_kernel", lambda: True)  # as in a notebook
    flaky = make_server(rate=None, backend_options={"failure_rate": 0.3}, max_attempts=1)
    job = dw.submit(sample_reviews(40), prompt=PROMPT, model="mock", **_conn(flaky))
    job._ipython_display_()
    job.join(timeout=30)
    flaky.backend.failure_rate = 0.0
    job.retry().join(timeout=30)  # one cell: the retry's output is shown by the wait
    assert job.new_attempt is None
    outputs = list(_outputs(shell).values())
    assert len(outputs) == 2 and " · retry 1" in outputs[1]["text/plain"]
