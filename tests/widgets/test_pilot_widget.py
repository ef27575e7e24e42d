"""A pilot in the progress widget: its report in the snapshot trait, the widget kept live
while the rest waits, the Proceed command (once) and the text and static fallbacks."""

from __future__ import annotations

import pytest
from test_pilot import sent_requests

import dw_notebook as dw
from dw_notebook.datasets import sample_reviews
from dw_notebook.progress.snapshot import JobSnapshot
from dw_notebook.progress.text import format_summary
from dw_notebook.widgets.pilot_static import job_html
from dw_notebook.widgets.progress import ProgressWidget

from .conftest import browser_message

PROMPT = "Sentiment of this review, one word: {review}"
MODEL = "Qwen/Qwen3.5-9B"  # priced, answered by the mock backend
HOSTILE = "<script>alert(1)</script> costs $5 and $6"


def figures(window: str) -> dict:
    return {
        "model": MODEL, "window": window, "pilot_rows": 2, "answered": 1, "failed": 1,
        "truncated": 0, "input_tokens_per_row": 20.0, "output_tokens_per_row": 2.0,
        "output_tokens_sd": None, "rest_rows": 98, "rest_input_tokens": 1960,
        "rest_output_tokens": 196, "pilot_usd": 0.00001, "rest_usd": 0.0002,
        "rest_low_usd": None, "rest_high_usd": None, "static_rest_usd": 0.002,
    }  # fmt: skip


def pilot(state: str = "ready") -> dict:
    rows = [
        {"prompt": f"Classify: {HOSTILE}", "answers": {"content": HOSTILE}, "status": "ok",
         "error": None, "finish_reason": "length", "prompt_tokens": 20, "completion_tokens": 2},
        {"prompt": "Classify: b", "answers": {"content": None}, "status": "failed",
         "error": "server_error: <boom>", "finish_reason": None, "prompt_tokens": None,
         "completion_tokens": None},
    ]  # fmt: skip
    return {"state": state, "n": 2, "rest": 98, "window": "24h", "columns": ["content"],
            "figures": {"1h": figures("1h"), "24h": figures("24h")}, "rows": rows,
            "error": None}  # fmt: skip


def ended(p: dict | None) -> JobSnapshot:
    return JobSnapshot("reviews", "completed", total=2, completed=1, failed=1, done=True, pilot=p)


def test_a_pilot_waiting_for_proceed_keeps_the_live_widget_and_shows_its_report(shell):
    from IPython.display import display

    widget = ProgressWidget()
    display(widget)
    widget.update(ended(pilot()))
    assert widget.snapshot["pilot"]["rows"][0]["answers"]["content"] == HOSTILE
    last = shell.published[-1]
    assert "application/vnd.jupyter.widget-view+json" in last["data"]  # Proceed stays there
    html = last["data"]["text/html"]
    assert 'data-testid="dw-pilot-static"' in html and "measured per row" in html
    assert "<script>" not in html and "&lt;script&gt;" in html and "$" not in html
    assert "&lt;boom&gt;" in html and "truncated" in html

    widget.update(ended(pilot("proceeded")))  # the job is over once the rest was sent and ended
    assert "application/vnd.jupyter.widget-view+json" not in shell.published[-1]["data"]


def test_without_a_pilot_the_end_state_is_static_as_before(shell):
    from IPython.display import display

    widget = ProgressWidget()
    display(widget)
    widget.update(ended(None))
    final = shell.published[-1]["data"]
    assert "application/vnd.jupyter.widget-view+json" not in final
    assert "dw-pilot" not in final["text/html"]


def test_the_text_fallback_prints_the_report_while_the_rest_waits():
    text = format_summary(ended(pilot()))
    assert "Pilot report" in text and "measured per row: 20.0 input + 2.0 output" in text
    assert "≈ $0.000200 on the 24h window" in text and "(bytes ÷ 4): $0.002000" in text
    assert "(truncated)" in text and "server_error: <boom>" in text
    assert "job.proceed(window='24h')" in text
    assert "Pilot report" not in format_summary(ended(pilot("proceeded")))
    assert "Pilot report" not in job_html(ended(pilot("proceeded")))


def test_proceed_messages_reach_the_callbacks_with_their_window():
    widget = ProgressWidget()
    seen: list = []
    widget.on_command(lambda command, **options: seen.append((command, options)))
    browser_message(widget, {"type": "proceed", "window": "1h"})
    assert seen == [("proceed", {"window": "1h"})]
    for bad in ({"type": "proceed"}, {"type": "proceed", "window": "7d; rm"}):
        browser_message(widget, bad)
    assert seen == [("proceed", {"window": "1h"})]
    assert [c["type"] for c, _ in widget.comm.customs()] == ["error", "error"]


def test_proceed_messages_carry_the_chosen_fix_or_the_deliberate_send_unchanged():
    widget = ProgressWidget()
    seen: list = []
    widget.on_command(lambda command, **options: seen.append(options))
    browser_message(widget, {"type": "proceed", "window": "24h", "max_tokens": 64,
                             "schema_hint": True})  # fmt: skip
    browser_message(widget, {"type": "proceed", "window": "1h", "send_unchanged": True})
    assert seen == [{"window": "24h", "max_tokens": 64, "schema_hint": True},
                    {"window": "1h", "send_unchanged": True}]  # fmt: skip
    for bad in (0, -3, "64", 6.5, True):
        browser_message(widget, {"type": "proceed", "window": "24h", "max_tokens": bad})
    assert len(seen) == 2 and len(widget.comm.customs()) == 5


def test_a_truncating_pilot_shows_its_proposal_and_the_widget_proceed_sends_the_new_cap(
    conn, server
):
    from test_pilot_findings import request_bodies

    job = dw.submit(sample_reviews(40, seed=3), prompt=PROMPT, model=MODEL, pilot=10,
                    response_format={"type": "object", "properties": {"why": {"type": "string"}}},
                    max_tokens=4, **conn)  # fmt: skip
    widget = job.widget()
    job.wait(timeout=60)
    found = widget.snapshot["pilot"]["findings"]
    assert found["truncated"] > 0 and found["cap"] == 4 and found["max_tokens"] >= 16
    assert "proposed max_tokens=" in job_html(widget.latest)
    summary = format_summary(widget.latest)
    assert f"job.proceed(max_tokens={found['max_tokens']}) sends the other 30 rows" in summary
    assert "job.proceed() sends" not in summary

    browser_message(widget, {"type": "proceed", "window": "24h"})  # the same cap: refused
    ((error, _),) = widget.comm.customs()
    assert error["type"] == "error" and "cut off at max_tokens=4" in error["text"]
    assert widget.snapshot["pilot"]["state"] == "ready" and len(request_bodies(server)) == 1
    browser_message(widget, {"type": "proceed", "window": "24h", "max_tokens": 32})
    job.wait(timeout=60)
    assert {b["max_tokens"] for b in request_bodies(server)[1]} == {32}


def test_proceed_from_the_widget_sends_the_rest_once_and_the_widget_shows_the_whole_job(
    conn, server
):
    df = sample_reviews(100, seed=3)
    job = dw.submit(df, prompt=PROMPT, model=MODEL, pilot=10, **conn)
    widget = job.widget()
    job.wait(timeout=60)
    state = widget.snapshot["pilot"]
    assert state["state"] == "ready" and len(state["rows"]) == 10
    assert state["shared_prompt"].startswith("[user] Sentiment of this review")
    assert all(r["answers"]["content"] and "Sentiment" not in r["prompt"] for r in state["rows"])
    assert state["figures"]["24h"]["rest_rows"] == 90
    assert state["figures"]["1h"]["rest_usd"] > state["figures"]["24h"]["rest_usd"]

    browser_message(widget, {"type": "proceed", "window": "24h"})
    browser_message(widget, {"type": "proceed", "window": "24h"})  # a second click: no second send
    assert widget.comm.customs() == []  # no error
    job.wait(timeout=60)
    snap = widget.latest
    assert snap.pilot["state"] == "proceeded" and snap.pilot["window"] == "24h"
    assert (snap.total, snap.completed, snap.done) == (100, 100, True)
    counts, batches = sent_requests(server)
    assert len(batches) == 2 and len(counts) == 100 and set(counts.values()) == {1}


def test_a_refused_proceed_is_shown_and_offered_again(server, proxy):
    conn = {"api_key": server.token, "base_url": proxy.base_url}
    job = dw.submit(sample_reviews(60, seed=3), prompt=PROMPT, model=MODEL, pilot=5, **conn)
    widget = job.widget()
    job.wait(timeout=60)
    proxy.answer("POST", "^/batches$", 400, b'{"error": {"message": "refused for the test"}}',
                 {"content-type": "application/json"})  # fmt: skip
    browser_message(widget, {"type": "proceed", "window": "24h"})  # returns; the rest uploads
    with pytest.raises(dw.APIError, match="refused for the test"):
        job.wait_submitted(timeout=60)
    proxy.wait_for(lambda: widget.snapshot["pilot"]["state"] == "ready", what="the offer again")
    assert "refused for the test" in widget.snapshot["sending"]["error"]  # shown in the widget

    browser_message(widget, {"type": "proceed", "window": "24h"})
    job.wait(timeout=60)
    assert job.snapshot().pilot["state"] == "proceeded"
    counts, batches = sent_requests(server)
    assert len(batches) == 2 and len(counts) == 60 and set(counts.values()) == {1}
    assert proxy.count("POST", "/files$") == 2  # the pilot's and the rest's, uploaded once


def test_a_real_pilots_view_is_plain_json(conn):
    import orjson  # refuses numpy and pandas values, which a widget trait cannot carry

    job = dw.submit(sample_reviews(30), prompt=PROMPT, model=MODEL, pilot=5, **conn)
    job.wait(timeout=60)
    view = orjson.loads(orjson.dumps(job.refresh().to_dict()))["pilot"]
    assert view["state"] == "ready" and len(view["rows"]) == 5 and view["figures"]["24h"]


def test_the_terminal_prints_the_pilot_report_when_the_pilot_ends(conn, capsys):
    df = sample_reviews(50, seed=4)
    job = dw.submit(df, prompt=PROMPT, model=MODEL, pilot=5, **conn)
    job.wait(timeout=60, progress=True)
    printed = capsys.readouterr().err
    assert "Pilot report" in printed and "measured per row" in printed
    assert "rest: 45 rows" in printed and "static estimate of the rest" in printed
    assert printed.count("\n  [ok] ") == 5  # each answer beside its prompt
    assert "job.proceed(window='24h')" in printed


def test_the_report_shows_the_parsed_columns_of_a_schema(conn):
    from typing import Literal

    from pydantic import BaseModel

    class Review(BaseModel):
        sentiment: Literal["positive", "negative", "neutral"]
        stars: int

    job = dw.submit(sample_reviews(40, seed=2), prompt=PROMPT, model=MODEL, pilot=4,
                    response_format=Review, **conn)  # fmt: skip
    job.wait(timeout=60)
    view = job.snapshot().pilot
    assert view["columns"] == ["sentiment", "stars"]
    assert all(r["answers"]["sentiment"] in ("positive", "negative", "neutral")
               and r["answers"]["stars"].isdigit() for r in view["rows"])  # fmt: skip


def test_an_answer_that_does_not_parse_shows_its_parse_error(make_server):
    from pydantic import BaseModel

    class Label(BaseModel):
        sentiment: str

    echo = make_server(backend="echo")  # answers with the prompt: not the schema's JSON
    job = dw.submit(sample_reviews(20, seed=2), prompt=PROMPT, model="echo", pilot=2,
                    response_format=Label, api_key=echo.token, base_url=echo.base_url)  # fmt: skip
    job.wait(timeout=60)
    view = job.snapshot().pilot
    assert view["columns"] == ["sentiment"]
    assert all(r["error"] and r["answers"]["sentiment"] is None for r in view["rows"]), view["rows"]
