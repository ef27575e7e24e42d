"""dw.builder, dw.jobs and job.review wired to the job API, against the local server."""

from __future__ import annotations

import gc
import time

import orjson
import pytest

import dw_notebook as dw
from dw_notebook.datasets import sample_reviews
from dw_notebook.job import Job
from dw_notebook.widgets.progress import ProgressWidget

PROMPT = "Sentiment of this review, one word: {review}"


def _state(widget) -> str:
    return orjson.dumps(widget.get_state(), default=str).decode()


def test_builder_previews_validates_and_submits(conn, server):
    df = sample_reviews(40)
    form = dw.builder(df, template=PROMPT, system="Be terse.", **conn)
    assert "mock" in form.models and form.model == "mock"
    preview = form.preview(PROMPT, 3)
    assert preview["error"] == "" and df["review"].iloc[3] in preview["text"]
    assert "[system] Be terse." in preview["text"] and preview["label"] == "r00003"
    assert not any(m["level"] == "error" for m in form.messages)
    assert "requests" in form.estimate

    form.template = "Sentiment: {revew}"
    assert any("revew" in m["text"] and m["level"] == "error" for m in form.messages)
    assert "revew" in form.preview(form.template, 0)["error"]

    window = "1h" if server.dialect == "doubleword" else "24h"  # OpenAI offers 24h only
    job = form.submit({"template": PROMPT, "model": "mock", "window": window, "max_tokens": 5})
    assert isinstance(job, Job) and job.spec["window"] == window
    out = job.join(timeout=60)
    assert out["status"].eq("ok").all()
    assert server.token not in _state(form)


def test_builder_names_rows_with_missing_values(conn):
    df = sample_reviews(10)
    df.loc["r00007", "review"] = None
    form = dw.builder(df, template=PROMPT, model="mock", **conn)
    errors = [m["text"] for m in form.messages if m["level"] == "error"]
    assert errors and "r00007" in errors[0]
    assert form.submit() is None  # an error blocks submitting


def test_jobs_dashboard_lists_attaches_and_cancels(make_server):
    srv = make_server(rate=20.0)
    conn = {"api_key": srv.token, "base_url": srv.base_url}
    running = dw.submit(sample_reviews(200), PROMPT, model="mock", name="long", **conn)
    running.wait_submitted()
    dash = dw.jobs(auto_refresh=None, **conn)
    try:
        rows = {r["id"]: r for r in dash.jobs}
        assert rows[running.batch_ids[0]]["name"] == "long"
        assert rows[running.batch_ids[0]]["source"] == "local"
        attached = dash.act("attach", running.batch_ids[0])
        assert isinstance(attached, ProgressWidget)
        dash.act("cancel", running.batch_ids[0])
        deadline = time.monotonic() + 30
        while running.refresh().phase != "cancelled" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running.snapshot().phase == "cancelled"
        dash.refresh()
        assert {r["id"]: r for r in dash.jobs}[running.batch_ids[0]]["status"] == "cancelled"
        assert srv.token not in _state(dash)
    finally:
        dash.close()


def test_review_pages_show_prompt_beside_answer(conn):
    df = sample_reviews(50)
    job = dw.submit(df, PROMPT, model="mock", **conn)
    out = job.join(timeout=60)
    widget = job.review()
    assert widget.overview["rows"] == 50 and widget.overview["has_prompt"]
    chart = widget.distributions[0]
    assert chart["column"] == "content"
    page = widget.page("samples", 1)
    assert page["total"] == 50 and len(page["index"]) == widget.overview["page_size"]
    for label, prompt, answer in zip(page["index"], page["data"]["prompt"],
                                     page["data"]["content"], strict=True):  # fmt: skip
        assert PROMPT.format(review=df.loc[label, "review"]) in prompt
        assert answer == out.loc[label, "content"]


def test_review_while_running_shows_the_rows_done_so_far(conn, server):
    if server.dialect == "openai":
        pytest.skip("OpenAI output appears only at the end")
    df = sample_reviews(30)
    job = dw.submit(df, PROMPT, model="mock", **conn)
    widget = job.review()
    assert widget.overview["rows"] == 30
    assert sum(widget.overview["by_status"].values()) == 30


def test_review_charts_only_answers_not_the_input_columns(conn):
    df = sample_reviews(40)  # "product" is a low-cardinality input column
    job = dw.submit(df, PROMPT, model="mock", **conn)
    job.join(timeout=60)
    widget = job.review()
    assert widget.overview["answer_columns"] == ["content"]
    assert [d["column"] for d in widget.distributions] == ["content"]


def test_builder_shows_the_strict_schema_of_a_pydantic_model(conn):
    from typing import Literal

    from pydantic import BaseModel

    class Label(BaseModel):
        sentiment: Literal["positive", "negative"]

    form = dw.builder(sample_reviews(5), template=PROMPT, response_format=Label, **conn)
    assert form.schema["properties"]["sentiment"]["enum"] == ["positive", "negative"]
    assert form.schema["additionalProperties"] is False  # as it will be sent


def test_dashboard_open_shows_a_finished_jobs_results_and_a_running_jobs_progress(make_server):
    from dw_notebook.widgets.review import ReviewWidget

    srv = make_server(rate=20.0)
    conn = {"api_key": srv.token, "base_url": srv.base_url}
    shown = dw.submit(sample_reviews(12), PROMPT, model="mock", name="shown", **conn)
    shown.join()  # a job of this kernel, with its DataFrame
    other = dw.submit(sample_reviews(8), PROMPT, model="mock", name="elsewhere", **conn)
    other.join()
    other_batch = other.batch_ids[0]
    del other  # as if submitted by another kernel: no job here has its frame
    gc.collect()
    running = dw.submit(sample_reviews(200), PROMPT, model="mock", name="long", **conn)
    running.wait_submitted()
    dash = dw.jobs(auto_refresh=None, **conn)
    try:
        review = dash.act("attach", shown.batch_ids[0])
        assert isinstance(review, ReviewWidget) and review.overview["rows"] == 12
        # a job this kernel has no frame for: its summary and the code that joins it
        summary = dash.act("attach", other_batch)
        assert "completed: 8 / 8 done" in summary["text/plain"]
        assert "out = dw.attach('elsewhere', df).join()" in summary["text/plain"]
        html = summary["text/html"]
        assert "8 / 8 done" in html and "dw.attach(&#x27;elsewhere&#x27;" in html
        assert isinstance(dash.act("attach", running.batch_ids[0]), ProgressWidget)
        assert srv.token not in _state(dash) and srv.token not in summary["text/html"]
    finally:
        running.cancel()
        dash.close()
