"""A labelling run end to end against the local server over real HTTP, in both dialects."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pandas as pd
import pytest

import dw_notebook as dw
from dw_notebook.datasets import sample_reviews
from dw_notebook.job.registry import Registry
from dw_notebook.prices import price_for
from dw_notebook.server.backends import MockBackend

PROMPT = "Sentiment of this review, one word: {review}"


def expected_answers(df: pd.DataFrame, template: str = PROMPT, model: str = "mock") -> list[str]:
    """What the mock backend answers for each row, computed from each row's own request."""
    backend = MockBackend()
    answers = []
    for review in df["review"]:
        body = {
            "model": model,
            "messages": [{"role": "user", "content": template.format(review=review)}],
        }
        status, response = backend.respond("/v1/chat/completions", body)
        assert status == 200
        answers.append(response["choices"][0]["message"]["content"])
    return answers


def test_joined_answer_is_the_one_the_server_gave_for_that_row(conn):
    df = sample_reviews(120, seed=1)
    job = dw.submit(df, prompt=PROMPT, model="mock", **conn)
    out = job.join(timeout=60)

    assert out.index.equals(df.index)
    assert (out["status"] == "ok").all()
    assert out["content"].tolist() == expected_answers(df)
    assert out["content"].nunique() > 1  # rows really differ, so a positional join would show
    assert (out["prompt_tokens"] > 0).all()
    assert set(out["batch_id"]) == set(job.batch_ids)


def test_rerunning_the_same_submit_reattaches_instead_of_paying_twice(conn, server):
    df = sample_reviews(30)
    first = dw.submit(df, prompt=PROMPT, model="mock", **conn).wait_submitted()
    again = dw.submit(df, prompt=PROMPT, model="mock", **conn).wait_submitted()
    assert again.batch_ids == first.batch_ids
    assert len(dw.list_jobs(**conn)) == 1

    forced = dw.submit(df, prompt=PROMPT, model="mock", force=True, **conn).wait_submitted()
    assert forced.batch_ids != first.batch_ids
    assert len(dw.list_jobs(**conn)) == 2


def test_attach_after_a_restart_joins_the_same_results(conn):
    df = sample_reviews(40)
    job = dw.submit(df, prompt=PROMPT, model="mock", name="reviews-run", **conn)
    expected = job.join(timeout=60)

    # A new kernel has only the registry on disk and the DataFrame.
    restored = dw.attach("reviews-run", df, registry=Registry(), **conn)
    assert restored.batch_ids == job.batch_ids
    pd.testing.assert_frame_equal(restored.join(timeout=60), expected)

    by_batch_id = dw.attach(job.batch_ids[0], df, **conn)
    assert by_batch_id.join(timeout=60)["content"].tolist() == expected["content"].tolist()


def test_work_over_the_request_limit_is_split_and_joined_as_one(conn):
    df = sample_reviews(95, seed=3)
    job = dw.submit(df, prompt=PROMPT, model="mock", max_requests=40, **conn).wait_submitted()
    assert len(job.batch_ids) == 3
    out = job.join(timeout=60)
    assert out["content"].tolist() == expected_answers(df)
    assert out["batch_id"].nunique() == 3
    snapshot = job.snapshot()
    assert snapshot.total == 95 and snapshot.completed == 95 and snapshot.done


def test_budget_refuses_before_anything_is_uploaded(conn, server):
    df = sample_reviews(50)
    with pytest.raises(dw.BudgetExceededError, match="over the budget"):
        dw.submit(df, prompt=PROMPT, model="Qwen/Qwen3.5-397B-A17B", budget=1e-9, **conn)
    import httpx

    files = httpx.get(
        f"{server.base_url}/files", headers={"Authorization": f"Bearer {server.token}"}
    )
    assert files.json()["data"] == []


def test_progress_is_visible_to_listeners_and_ends_done(conn):
    df = sample_reviews(60)
    job = dw.submit(df, prompt=PROMPT, model="mock", **conn)
    seen = []
    job.add_listener(seen.append)
    job.wait(timeout=60, progress=False)
    assert seen[-1].done and seen[-1].phase == "completed"
    assert seen[-1].completed == 60
    assert not seen[-1].simulated  # an explicit key and URL: not the embedded server


def test_the_job_is_in_the_registry_before_submit_returns_and_its_batch_ids_once_made(conn):
    df = sample_reviews(10)
    job = dw.submit(df, prompt=PROMPT, model="mock", **conn)
    assert Registry().find(job.id) is not None
    record = Registry().find(job.wait_submitted().batch_ids[0])
    assert record is not None and record.job_id == job.id


def test_cli_demo_prints_the_joined_table(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dw_notebook", "demo", "--rows", "40", "--rate", "400"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "simulated" in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["review", "content", "status", "prompt_tokens"]
    head = lines[: lines.index("")]
    assert sum(" ok " in line for line in head) == 10
    # then a closing table of rows per status and answer, not a raw dict
    tally = lines[lines.index("") + 1 :]
    assert tally[0].split() == ["status", "content", "rows", "share"]
    assert sum(int(row.split()[2]) for row in tally[1:]) == 40
    assert all(row.split()[0] == "ok" for row in tally[1:])
    assert "{" not in result.stdout


def test_embedded_server_is_used_without_a_key_and_says_answers_are_simulated():
    df = sample_reviews(12)
    job = dw.submit(df, prompt=PROMPT, model="mock")
    try:
        assert job.connection.simulated
        assert "simulated" in job.snapshot().message
        out = job.join(timeout=60)
        assert out["content"].tolist() == expected_answers(df)
    finally:
        dw.stop_local()


def test_api_key_never_appears_in_reprs(conn, server):
    df = sample_reviews(5)
    job = dw.submit(df, prompt=PROMPT, model="mock", **conn)
    texts = [repr(job), repr(job.connection), repr(job._client), str(job.snapshot().to_dict())]
    assert not any(server.token in text for text in texts)
    assert orjson.dumps(job.snapshot().to_dict()).decode().find(server.token) == -1


def test_the_dataframe_accessor_is_the_same_submit(conn):
    df = sample_reviews(15)
    job = df.dw.submit(PROMPT, model="mock", **conn)
    out = job.join(timeout=60)
    assert out["content"].tolist() == expected_answers(df)
    assert "job.join()" in job.snapshot().extra["hint"]  # the end state points to the results


def test_actual_cost_comes_from_the_usage_the_service_reports(conn):
    """OpenAI's batch usage at the known price; Doubleword's analytics (its own total_cost)."""
    model = "Qwen/Qwen3.5-9B"  # a priced model, answered by the mock backend
    df = sample_reviews(30)
    job = dw.submit(df, prompt=PROMPT, model=model, **conn)
    out = job.join(timeout=60)
    snapshot = job.snapshot()
    price = price_for(model, "24h")
    expected = (out["prompt_tokens"].sum() * price.input
                + out["completion_tokens"].sum() * price.output) / 1e6  # fmt: skip
    assert snapshot.actual_cost == pytest.approx(expected)
    assert 0 < snapshot.actual_cost


def test_attach_rebuilds_the_requests_so_skipped_rows_and_prompts_survive(conn):
    df = sample_reviews(20)
    df.loc["r00003", "review"] = None
    job = dw.submit(df, prompt=PROMPT, model="mock", missing="skip", name="with-gaps",
                    system="Be brief.", **conn)  # fmt: skip
    expected = job.join(timeout=60)
    assert expected.loc["r00003", "status"] == "skipped"

    restored = dw.attach("with-gaps", df, registry=Registry(), **conn)
    assert restored.built is not None  # the same requests, rebuilt from the same frame
    pd.testing.assert_frame_equal(restored.join(timeout=60), expected)
    page = restored.review().page("samples", 0)
    # the system prompt every row shares is sent once per page, not in every row
    assert page["shared_prompt"] == "[system] Be brief.\n"
    assert page["data"]["prompt"][0].startswith("[user] ")

    changed = df.assign(review=df["review"].str.upper())
    other = dw.attach("with-gaps", changed, **conn)
    assert other.built is None  # not the submitted requests: rows are matched by their ids
    pd.testing.assert_series_equal(other.join(timeout=60)["content"], expected["content"])
