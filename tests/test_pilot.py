"""Pilot runs against the local server over real HTTP: a sample first, its measured figures,
then the rest, merged in one join; every request sent once."""

from __future__ import annotations

from collections import Counter

import orjson
import pandas as pd
import pytest
from support.proxy import FaultProxy

import dw_notebook as dw
from dw_notebook.client import BatchClient
from dw_notebook.datasets import sample_reviews
from dw_notebook.job import pilot
from dw_notebook.job.pilot_report import PilotFigures, PilotReport
from dw_notebook.jsonl.requests import build_requests
from dw_notebook.prices import price_for
from dw_notebook.progress.text import format_summary
from dw_notebook.server.backends import MockBackend

PROMPT = "Sentiment of this review, one word: {review}"
MODEL = "Qwen/Qwen3.5-9B"  # priced, answered by the mock backend


def expected_answers(df: pd.DataFrame, template: str = PROMPT, model: str = "mock") -> list[str]:
    """What the mock backend answers for each row's own request."""
    answers = []
    for review in df["review"]:
        messages = [{"role": "user", "content": template.format(review=review)}]
        status, reply = MockBackend().respond(
            "/v1/chat/completions", {"model": model, "messages": messages}
        )
        answers.append(reply["choices"][0]["message"]["content"])
    return answers


def sent_requests(server) -> tuple[Counter, list[dict]]:
    """custom_id -> how many times the server was asked for it, from every batch's input file;
    and the batches, oldest first."""
    with BatchClient(server.base_url, server.token) as client:
        batches = list(reversed(list(client.iter_batches())))
        counts: Counter = Counter()
        for batch in batches:
            for line in client.file_content(batch["input_file_id"]).data.splitlines():
                if line.strip():
                    counts[orjson.loads(line)["custom_id"]] += 1
    return counts, batches


def rows_cost(rows: pd.DataFrame, window: str) -> float:
    price = price_for(MODEL, window)
    return (
        rows["prompt_tokens"].sum() * price.input + rows["completion_tokens"].sum() * price.output
    ) / 1e6


def test_a_pilot_of_10_then_the_rest_joins_1000_rows_each_sent_once(conn, server, dialect):
    df = sample_reviews(1000, seed=4)
    job = dw.submit(df, prompt=PROMPT, model=MODEL, pilot=10, **conn)
    report = job.pilot_report(timeout=60)
    figures = report.figures
    assert (figures.pilot_rows, figures.answered, figures.rest_rows) == (10, 10, 990)
    assert len(report.rows) == 10 and report.rows.attrs["shared_prompt"].startswith("[user] Senti")
    # each row shows its own text: the review, not the instruction every row shares
    own = report.rows["prompt"].str.removeprefix("…")
    assert own.tolist() == df.loc[report.rows.index, "review"].tolist()
    assert "content" in report.answer_columns
    assert "measured per row" in repr(report) and "<table" in report._repr_html_()
    # the widget and the text summary show what to do next
    assert "job.proceed() sends the other 990 rows" in format_summary(job.snapshot())

    _, batches = sent_requests(server)
    assert len(batches) == 1 and batches[0]["request_counts"]["total"] == 10
    # the 1h window where the service offers it; OpenAI offers 24h only
    assert batches[0]["completion_window"] == ("1h" if dialect == "doubleword" else "24h")

    job.proceed(window="24h")
    out = job.join(timeout=60)

    assert len(out) == 1000 and out.index.equals(df.index)
    assert (out["status"] == "ok").all()
    assert out["content"].tolist() == expected_answers(df, model=MODEL)
    assert out["phase"].value_counts().to_dict() == {"rest": 990, "pilot": 10}
    assert (out.loc[out["phase"] == "pilot", "attempt"] == 0).all()
    assert "earlier_prompt" not in out.columns  # nothing changed at proceed
    counts, batches = sent_requests(server)
    assert len(counts) == 1000 and set(counts.values()) == {1}
    assert len(batches) == 2

    actual = rows_cost(out[out["phase"] == "rest"], "24h")
    assert abs(figures.rest_usd - actual) / actual < 0.10, (figures.rest_usd, actual)
    assert figures.rest_low_usd <= figures.rest_usd <= figures.rest_high_usd


def test_the_sample_covers_the_values_of_a_named_column_in_proportion():
    df = pd.DataFrame({"kind": ["a"] * 700 + ["b"] * 200 + ["c"] * 100, "text": "x"})
    built = build_requests(df, model="mock", prompt="{text}")
    chosen = pilot.sample(df, built, 10, by="kind")
    assert Counter(df["kind"].iloc[chosen]) == {"a": 7, "b": 2, "c": 1}
    # fewer rows than values: the largest values first, one row each
    assert Counter(df["kind"].iloc[pilot.sample(df, built, 2, by="kind")]) == {"a": 1, "b": 1}
    # over the frame: spread from start to end, not the first rows
    spread = pilot.sample(df, built, 10)
    assert spread[0] < 100 and spread[-1] > 900 and len(set(spread)) == 10
    with pytest.raises(ValueError, match="pilot_by='nope' is not a column"):
        pilot.sample(df, built, 10, by="nope")


def test_proceed_with_a_new_prompt_marks_the_pilot_answers_as_from_the_earlier_prompt(conn):
    df = sample_reviews(60, seed=2)
    job = dw.submit(df, prompt=PROMPT, model="mock", pilot=6, **conn)
    new_prompt = "One word for the mood of: {review}"
    job.proceed(prompt=new_prompt, max_tokens=5)
    out = job.join(timeout=60)

    is_pilot = out["phase"] == "pilot"
    assert is_pilot.sum() == 6 and out["earlier_prompt"].tolist() == is_pilot.tolist()
    old, new = expected_answers(df, model="mock"), expected_answers(df, new_prompt, "mock")
    want = [o if p else n for o, n, p in zip(old, new, is_pilot, strict=True)]
    assert out["content"].tolist() == want
    assert old != new  # the prompts give different answers, so the check above can fail
    # the rest is not a retry: nothing of it counts as recovered, on the card or in the review
    assert job.snapshot().rows["recovered"] == job.review().counts.recovered == 0

    # a retry sends rows as the rest was sent: the new prompt, with its max_tokens
    lines = job._input_lines(set(job.built.custom_ids[:3]))
    bodies = [orjson.loads(line)["body"] for line in lines]
    assert all(b["max_tokens"] == 5 and "mood" in b["messages"][0]["content"] for b in bodies)


def test_the_budget_is_checked_against_the_pilots_measured_cost(conn, server):
    df = sample_reviews(200, seed=5)
    job = dw.submit(df, prompt=PROMPT, model=MODEL, pilot=5, **conn)
    measured = job.pilot_report(timeout=60).figures
    with pytest.raises(dw.BudgetExceededError, match="measured"):
        job.proceed(budget=measured.total_usd * 0.5)
    assert len(sent_requests(server)[1]) == 1  # nothing more sent
    job.proceed(budget=measured.total_usd * 1.5).wait_submitted()  # the rest uploads on a thread
    assert len(sent_requests(server)[1]) == 2


def test_a_budget_under_the_static_estimate_still_lets_a_pilot_measure(conn, server):
    df = sample_reviews(200, seed=7)
    static = dw.estimate(dw.prepare(df, PROMPT, model=MODEL)).usd
    budget = static / 3  # bytes ÷ 4 overestimates these short prompts many times
    with pytest.raises(dw.BudgetExceededError):
        dw.submit(df, prompt=PROMPT, model=MODEL, budget=budget, **conn)
    job = dw.submit(df, prompt=PROMPT, model=MODEL, pilot=5, budget=budget, **conn)
    assert job.pilot_report(timeout=60).figures.total_usd < budget
    job.proceed()  # the submit's budget, checked on the measured figures
    assert len(job.join(timeout=60)) == 200


def test_rerunning_the_cells_never_sends_a_row_twice(conn, server):
    df = sample_reviews(50, seed=6)
    job = dw.submit(df, prompt=PROMPT, model="mock", pilot=5, **conn)
    again = dw.submit(df, prompt=PROMPT, model="mock", pilot=5, **conn)
    assert again.batch_ids == job.batch_ids
    with pytest.raises(dw.JobError, match="proceed"):
        job.retry()
    job.proceed()
    job.proceed()  # while the rest still uploads, or once it is sent: nothing more
    dw.submit(df, prompt=PROMPT, model="mock", pilot=5, **conn).proceed()
    job.wait_submitted()
    counts, batches = sent_requests(server)
    assert len(batches) == 2 and len(counts) == 50 and set(counts.values()) == {1}
    # after a restart the job still knows which rows were the pilot
    restored = dw.attach(job.name, df, **conn)
    assert restored.join(timeout=60)["phase"].value_counts().to_dict() == {"rest": 45, "pilot": 5}


def test_attach_after_a_pilot_submit_stopped_before_its_upload_sends_only_the_pilot(server):
    # resuming attempt 0 of a pilot job sends its sample on the pilot window, not the frame
    df = sample_reviews(300, seed=5)
    with FaultProxy(server.base_url) as proxy:
        proxy.answer("POST", "^/files$", 400, b'{"error": {"message": "refused for the test"}}',
                     {"content-type": "application/json"})  # fmt: skip
        conn = {"api_key": server.token, "base_url": proxy.base_url}
        with pytest.raises(dw.APIError):
            dw.submit(
                df, prompt=PROMPT, model=MODEL, pilot=10, name="stopped", **conn
            ).wait_submitted()
        job = dw.attach("stopped", df, **conn)
    counts, batches = sent_requests(server)
    assert len(batches) == 1 and sum(counts.values()) == 10
    assert set(counts) == set(job.spec["pilot"]["ids"])


def test_attach_with_a_reordered_frame_after_proceed_matches_pilot_and_rest(conn):
    # both the pilot and the rest first sent rows: a sorted frame matches against both
    df = sample_reviews(120, seed=6)
    job = dw.submit(df, prompt=PROMPT, model=MODEL, pilot=10, name="reordered", **conn)
    job.wait(timeout=60)
    job.proceed()
    first = job.join(timeout=60)
    again = dw.attach("reordered", df.iloc[::-1], **conn).join(timeout=60)
    assert again["status"].eq("ok").all()
    assert again["content"].equals(first["content"].iloc[::-1])


def test_the_report_escapes_dollars_so_jupyterlab_does_not_typeset_costs_as_latex():
    figures = PilotFigures(
        model=MODEL, window="24h", pilot_rows=1, answered=1, failed=0, truncated=0,
        input_tokens_per_row=10.0, output_tokens_per_row=2.0, output_tokens_sd=0.0,
        rest_rows=9, rest_input_tokens=90, rest_output_tokens=18, pilot_usd=0.0001,
        rest_usd=0.0009, rest_low_usd=0.0008, rest_high_usd=0.001, static_rest_usd=0.001,
    )  # fmt: skip
    rows = pd.DataFrame({"prompt": ["Cost of $5 and $6?"], "content": ["$11"], "status": ["ok"]})
    page = PilotReport(figures, rows, ["content"])._repr_html_()
    assert "$" not in page
    assert "&#36;0.0009" in page and "Cost of &#36;5 and &#36;6?" in page and "&#36;11" in page


def test_a_pilot_keeps_the_built_requests_its_report_and_the_rest_read(conn):
    df = sample_reviews(200, seed=8)
    job = dw.submit(df, prompt=PROMPT, model="mock", pilot=5, **conn).wait_submitted()
    assert job.built.holds_bytes  # releasing after the pilot's 5 rows would rebuild all 200
    job.pilot_report(timeout=60)
    job.proceed().wait_submitted()
    assert not job.built.holds_bytes  # every row is on the service now
