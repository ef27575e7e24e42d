"""What a pilot showed drives what is sent next: answers cut off at max_tokens (or not matching
the schema) are never sent again the same way without a deliberate choice, by ``proceed`` or
by ``retry``. Real HTTP to the local server; the mock answers schema-valid JSON and cuts it off
at ``max_tokens``."""

from __future__ import annotations

import orjson
import pytest

import dw_notebook as dw
from dw_notebook.client import BatchClient
from dw_notebook.datasets import sample_reviews
from dw_notebook.job import pilot
from dw_notebook.job.pilot_findings import RepeatedCauseError
from dw_notebook.job.pilot_prompts import own_texts
from dw_notebook.progress.fixes import proposed_max_tokens
from dw_notebook.progress.pilot import format_pilot

PROMPT = "Sentiment of this review: {review}"
SYSTEM = "You label product reviews for a quality team. Be strict and consistent."
SCHEMA = {
    "type": "object",
    "properties": {
        "sentiment": {"enum": ["positive", "negative", "neutral"]},
        "reason": {"type": "string"},
    },
    "required": ["sentiment", "reason"],
}


def request_bodies(server) -> list[list[dict]]:
    """The request bodies each batch's input file held, oldest batch first."""
    with BatchClient(server.base_url, server.token) as client:
        batches = list(reversed(list(client.iter_batches())))
        return [
            [orjson.loads(line)["body"]
             for line in client.file_content(b["input_file_id"]).data.splitlines() if line.strip()]
            for b in batches
        ]  # fmt: skip


def submit(df, conn, max_tokens=8, pilot_rows=10):
    return dw.submit(df, prompt=PROMPT, system=SYSTEM, model="mock", response_format=SCHEMA,
                     max_tokens=max_tokens, pilot=pilot_rows, **conn)  # fmt: skip


def test_the_pilot_report_proposes_max_tokens_from_the_measured_answers(conn):
    job = submit(sample_reviews(60, seed=3), conn)
    report = job.pilot_report(timeout=60)
    found = report.findings
    rows = report.rows
    cut = rows["finish_reason"].eq("length")
    assert found["truncated"] == int(cut.sum()) > 0 and found["cap"] == 8
    assert found["cut_at"] == 8
    complete = rows.loc[~cut & rows["parse_error"].isna(), "completion_tokens"]
    longest = int(complete.max()) if len(complete) else None
    assert found["longest_complete"] == longest
    assert found["max_tokens"] == proposed_max_tokens(8, longest) >= 32
    text = repr(report)
    assert f"{found['truncated']} of 10 answers were cut off at max_tokens=8" in text
    assert f"proposed max_tokens={found['max_tokens']}" in text
    assert f"job.proceed(max_tokens={found['max_tokens']})" in text


def test_proceed_without_the_fix_refuses_naming_the_count_cause_and_call(conn, server):
    job = submit(sample_reviews(60, seed=3), conn)
    found = job.pilot_report(timeout=60).findings
    with pytest.raises(RepeatedCauseError) as caught:
        job.proceed()
    message = str(caught.value)
    assert f"{found['truncated']} of 10 pilot answers were cut off at max_tokens=8" in message
    assert f"job.proceed(max_tokens={found['max_tokens']})" in message
    assert "job.proceed(send_unchanged=True)" in message and "nothing was sent" in message
    with pytest.raises(RepeatedCauseError):
        job.proceed(max_tokens=8)  # the same cap is no fix
    assert len(request_bodies(server)) == 1  # the pilot only

    job.proceed(max_tokens=found["max_tokens"])
    out = job.join(timeout=60)
    bodies = request_bodies(server)
    assert len(bodies) == 2 and len(bodies[1]) == 50
    assert {b["max_tokens"] for b in bodies[1]} == {found["max_tokens"]}
    assert not out.loc[out["phase"] == "rest", "finish_reason"].eq("length").any()
    # the pilot's report keeps saying what the rest was sent with, in the widget and the text
    pilot = job.snapshot().pilot
    assert pilot["state"] == "proceeded"
    assert pilot["sent"] == {"max_tokens": found["max_tokens"], "schema_hint": False,
                             "unchanged": False}  # fmt: skip
    assert f"with max_tokens={found['max_tokens']}." in format_pilot(pilot)


def test_send_unchanged_sends_the_rest_as_the_pilot_was_sent(conn, server):
    job = submit(sample_reviews(40, seed=3), conn)
    job.pilot_report(timeout=60)
    job.proceed(send_unchanged=True)
    job.wait(timeout=60)
    bodies = request_bodies(server)
    assert len(bodies[1]) == 30 and {b["max_tokens"] for b in bodies[1]} == {8}
    assert "unchanged, as asked" in format_pilot(job.snapshot().pilot)


def test_a_pilot_without_findings_proceeds_as_before(conn):
    job = submit(sample_reviews(30, seed=3), conn, max_tokens=None)
    assert job.pilot_report(timeout=60).findings is None
    job.proceed()
    assert job.join(timeout=60)["status"].eq("ok").all()


def test_retry_refuses_to_send_cut_off_rows_with_the_same_cap_and_resends_with_more(conn, server):
    df = sample_reviews(40, seed=5)
    job = dw.submit(df, prompt=PROMPT, model="mock", response_format=SCHEMA, max_tokens=8, **conn)
    out = job.join(timeout=60)
    cut = out["finish_reason"].eq("length")
    assert cut.sum() > 0
    with pytest.raises(RepeatedCauseError) as caught:
        job.retry()
    message = str(caught.value)
    assert f"{int(cut.sum()):,} rows were cut off at 8 tokens" in message
    assert "job.retry(max_tokens=32)" in message and "job.retry(send_unchanged=True)" in message
    cut_ids = [job.built.custom_ids[i] for i in range(len(out)) if cut.iloc[i]]
    assert f"ids {cut_ids[0]}" in message and len(request_bodies(server)) == 1

    job.retry(max_tokens=64)
    again = job.join(timeout=60)
    bodies = request_bodies(server)
    assert len(bodies) == 2 and len(bodies[1]) == int(cut.sum())
    assert {b["max_tokens"] for b in bodies[1]} == {64}
    assert not again["finish_reason"].eq("length").any()


def test_retry_send_unchanged_resends_with_the_same_cap(conn, server):
    df = sample_reviews(20, seed=5)
    job = dw.submit(df, prompt=PROMPT, model="mock", response_format=SCHEMA, max_tokens=8, **conn)
    job.join(timeout=60)
    job.retry(send_unchanged=True)
    job.wait(timeout=60)
    assert {b["max_tokens"] for b in request_bodies(server)[1]} == {8}


def test_pilot_rows_show_their_own_text_not_the_shared_system_prompt(conn):
    df = sample_reviews(40, seed=3)
    job = submit(df, conn)
    rows = pilot.pilot_rows(job, timeout=60)
    assert SYSTEM not in " ".join(rows["prompt"])
    assert rows.attrs["shared_prompt"].startswith(f"[system] {SYSTEM}")
    for prompt, review in zip(rows["prompt"], df.loc[rows.index, "review"], strict=True):
        assert review[:20] in prompt[:40], prompt
    view = job.refresh().pilot
    assert view["shared_prompt"].startswith("[system] ") and view["findings"]["truncated"]


def test_own_texts_keep_each_rows_values_and_show_the_shared_start_once():
    bodies = [
        {"messages": [{"role": "system", "content": "S"},
                      {"role": "user", "content": f"Sentiment of this review: {text}"}]}
        for text in ("Loved it", "Broke in a week", "Fine")
    ]  # fmt: skip
    texts, shared = own_texts(bodies)
    assert texts == ["…Loved it", "…Broke in a week", "…Fine"]
    assert shared == "[system] S\nSentiment of this review: "
    one, shared_one = own_texts(bodies[:1])  # one row: nothing to compare, shown whole
    assert shared_one == "" and one[0].startswith("[system] S")


def test_schema_hint_adds_the_schema_to_the_system_prompt_of_the_rest(conn, server):
    job = submit(sample_reviews(30, seed=3), conn)
    job.pilot_report(timeout=60)
    job.proceed(max_tokens=64, schema_hint=True)
    job.wait(timeout=60)
    system = {b["messages"][0]["content"] for b in request_bodies(server)[1]}
    assert system == {
        f"{SYSTEM}\nAnswer with only a JSON object, no other text. "
        "response: sentiment (positive|negative|neutral), reason (string)"
    }


def parsed_frame(parse_errors, finish=None, tokens=None):
    import pandas as pd

    n = len(parse_errors)
    return pd.DataFrame({
        "status": ["ok"] * n,
        "parse_error": parse_errors,
        "finish_reason": finish or ["stop"] * n,
        "completion_tokens": tokens or [10] * n,
    })  # fmt: skip


def test_answers_that_did_not_parse_ask_for_the_schema_hint_or_a_prompt_change():
    from dw_notebook.job import pilot_findings as pf

    body = {"messages": [], "max_tokens": 100, "response_format": {
        "type": "json_schema", "json_schema": {"name": "r", "schema": SCHEMA}}}  # fmt: skip
    rows = parsed_frame([None, "Expecting value: line 1 column 1", None])
    found = pf.findings(rows, body)
    assert (found["unparsed"], found["truncated"], found["max_tokens"]) == (1, 0, None)
    assert found["schema_hint"].startswith("Answer with only a JSON object")
    assert pf.unaddressed(found, {}) == ["unparsed"]
    assert pf.unaddressed(found, {"max_tokens": 500}) == ["unparsed"]
    assert pf.unaddressed(found, {"schema_hint": True}) == []
    assert pf.unaddressed(found, {"prompt": "Answer in JSON: {review}"}) == []
    error = str(pf.refuse_proceed(found, ["unparsed"], 90))
    assert "1 of 3 pilot answers did not parse against the schema (Expecting value" in error
    assert "job.proceed(schema_hint=True)" in error
    # a retry of the same request is refused; any change to it is sent
    line = orjson.dumps({"custom_id": "b", "body": body})
    with pytest.raises(RepeatedCauseError, match=r"1 rows answered but did not parse.*ids b"):
        pf.check_retry(rows, ["a", "b", "c"], {"b"}, [line], {})
    pf.check_retry(rows, ["a", "b", "c"], {"b"}, [line], {"schema_hint": True})
    # answers cut off mid-JSON also fail to parse: counted as cut off, fixed by max_tokens
    cut = parsed_frame([None, "EOF while parsing"], ["stop", "length"], [7, 100])
    found = pf.findings(cut, body)
    assert (found["truncated"], found["unparsed"], found["max_tokens"]) == (1, 0, 512)
    assert pf.unaddressed(found, {"max_tokens": 100}) == ["truncated"]
    assert pf.unaddressed(found, {"max_tokens": 101}) == []
