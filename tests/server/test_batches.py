"""Batch lifecycle: states and timestamps, cancel, list, output order, live counts."""

from __future__ import annotations

import pytest
from server_support import CHAT, chat_line, wait_until

from dw_notebook.server.backends import MockBackend


def test_state_machine_sets_every_timestamp_in_order(make_api, any_dialect):
    api = make_api(dialect=any_dialect, validation_delay=100, finalize_delay=100)
    created = api.submit([chat_line(i) for i in range(5)], metadata={"run": "t1"})
    assert created["status"] == "validating"
    # Doubleword records where a batch came from in its metadata (and dwext)
    source = {"request_source": "api"} if any_dialect == "doubleword" else {}
    assert created["metadata"] == {"run": "t1", **source}
    assert api.batch(created["id"])["status"] == "validating"  # time has not moved
    api.srv.clock.advance(100)
    finalizing = api.wait(created["id"], {"finalizing"})
    assert finalizing["request_counts"]["completed"] == 5
    api.srv.clock.advance(100)
    done = api.wait(created["id"])
    assert done["status"] == "completed"
    t = [done[k] for k in ("created_at", "in_progress_at", "finalizing_at", "completed_at")]
    assert t == sorted(t) and t[-1] - t[0] >= 200
    assert done.get("cancelled_at") is None and done.get("failed_at") is None


def test_counts_update_live_at_the_configured_rate(make_api):
    api = make_api(dialect="openai", rate=100.0)
    created = api.submit([chat_line(i) for i in range(60)])
    seen = set()

    def progressed():
        b = api.batch(created["id"])
        seen.add(b["request_counts"]["completed"])
        return b["status"] == "completed"

    wait_until(progressed)
    middle = {n for n in seen if 0 < n < 60}
    assert len(middle) >= 3  # several intermediate counts were visible


def test_output_order_is_shuffled_so_only_custom_id_joins_work(make_api):
    api = make_api(dialect="openai", shuffle=True)
    batch = api.wait(api.submit([chat_line(i) for i in range(50)])["id"])
    order = [x["custom_id"] for x in api.lines(batch["output_file_id"])]
    assert sorted(order) == sorted(f"row-{i}" for i in range(50))
    assert order != [f"row-{i}" for i in range(50)]


def test_unshuffled_server_answers_in_input_order(make_api):
    api = make_api(dialect="openai", shuffle=False)
    batch = api.wait(api.submit([chat_line(i) for i in range(20)])["id"])
    assert [x["custom_id"] for x in api.lines(batch["output_file_id"])] == [
        f"row-{i}" for i in range(20)
    ]


def test_shuffled_rows_spread_over_a_large_file_are_each_answered_from_their_own_line(make_api):
    # 8,000 rows of about 900 bytes: a shuffled chunk of 2,000 is spread over the whole file,
    # too thinly for one read of its span, so its lines are read one by one
    api = make_api(dialect="openai", shuffle=True)
    lines = [chat_line(i, text=f"row {i} " + "x" * 800) for i in range(8000)]
    done = api.wait(api.submit(lines)["id"], timeout=60)
    assert done["request_counts"]["completed"] == 8000
    mock = MockBackend()
    got = {x["custom_id"]: x["response"]["body"]["id"] for x in api.lines(done["output_file_id"])}
    assert got == {x["custom_id"]: mock.respond(CHAT, x["body"])[1]["id"] for x in lines}


def test_cancel_keeps_partial_output_and_reports_unrun_requests(make_api):
    # OpenAI; Doubleword's cancel is in test_dw_cancel.py
    api = make_api(dialect="openai", rate=50.0, finalize_delay=100)
    created = api.submit([chat_line(i) for i in range(400)])
    wait_until(lambda: api.batch(created["id"])["request_counts"]["completed"] >= 5)
    resp = api.http.post(f"/batches/{created['id']}/cancel")
    assert resp.status_code == 200 and resp.json()["status"] == "cancelling"
    assert api.http.post(f"/batches/{created['id']}/cancel").json()["status"] == "cancelling"
    assert api.batch(created["id"])["status"] == "cancelling"
    api.srv.clock.advance(100)
    done = api.wait(created["id"])
    assert done["status"] == "cancelled" and done["cancelled_at"] >= done["cancelling_at"]
    n = done["request_counts"]["completed"]
    assert 5 <= n < 400
    outputs = api.lines(done["output_file_id"])
    skipped = api.lines(done["error_file_id"])
    assert len(outputs) == n
    assert len(skipped) == 400 - n
    assert {e["error"]["code"] for e in skipped} == {"batch_cancelled"}
    ids = {x["custom_id"] for x in outputs} | {x["custom_id"] for x in skipped}
    assert ids == {f"row-{i}" for i in range(400)}


def test_cancelling_a_finished_batch_is_a_conflict(make_api):
    api = make_api(dialect="openai")  # Doubleword accepts it: test_dw_cancel.py
    done = api.wait(api.submit([chat_line(1)])["id"])
    resp = api.http.post(f"/batches/{done['id']}/cancel")
    assert resp.status_code == 409
    assert "message" in resp.json()["error"]
    assert api.batch(done["id"])["status"] == "completed"


def test_cancel_during_validating_runs_nothing(make_api):
    api = make_api(dialect="openai", validation_delay=100)  # Doubleword: test_dw_cancel.py
    created = api.submit([chat_line(i) for i in range(5)])
    api.http.post(f"/batches/{created['id']}/cancel")
    done = api.wait(created["id"])
    assert done["status"] == "cancelled"
    assert done["request_counts"]["completed"] == 0
    assert done.get("in_progress_at") is None


def test_list_batches_is_newest_first_with_after_and_limit(make_api, any_dialect):
    api = make_api(dialect=any_dialect, validation_delay=100)
    fid = api.upload([chat_line(1)]).json()["id"]
    ids = [api.create(fid)["id"] for _ in range(7)]
    first = api.http.get("/batches", params={"limit": 3}).json()
    assert [b["id"] for b in first["data"]] == ids[::-1][:3] and first["has_more"]
    second = api.http.get("/batches", params={"limit": 3, "after": first["last_id"]}).json()
    assert [b["id"] for b in second["data"]] == ids[::-1][3:6] and second["has_more"]
    last = api.http.get("/batches", params={"limit": 3, "after": second["last_id"]}).json()
    assert [b["id"] for b in last["data"]] == ids[:1] and not last["has_more"]
    assert len(api.http.get("/batches").json()["data"]) == 7  # default limit 20
    if any_dialect == "openai":
        assert api.http.get("/batches", params={"limit": 101}).status_code == 400
    else:  # Doubleword clamps to 1..101
        assert len(api.http.get("/batches", params={"limit": 0}).json()["data"]) == 1
        assert api.http.get("/batches", params={"limit": 101}).status_code == 200


def test_create_checks_its_parameters(make_api):
    api = make_api(dialect="openai")  # Doubleword: test_dw_batches.py
    fid = api.upload([chat_line(1)]).json()["id"]
    base = {"input_file_id": fid, "endpoint": CHAT, "completion_window": "24h"}
    for bad in (
        {"endpoint": "/v1/images"},
        {"completion_window": "7d"},
        {"metadata": {"k": 1}},
        {"input_file_id": ""},
    ):
        assert api.http.post("/batches", json={**base, **bad}).status_code == 400, bad
    assert api.http.post("/batches", json={**base, "input_file_id": "nope"}).status_code == 404
    assert api.http.post("/batches", content=b"not json").status_code == 400


def test_embeddings_and_completions_endpoints_run(make_api, any_dialect):
    api = make_api(dialect=any_dialect)
    emb = {
        "custom_id": "e1",
        "method": "POST",
        "url": "/v1/embeddings",
        "body": {"model": "mock", "input": ["a", "b"]},
    }
    done = api.wait(api.submit([emb], endpoint="/v1/embeddings")["id"])
    body = api.lines(done["output_file_id"])[0]["response"]["body"]
    assert body == {**MockBackend().respond("/v1/embeddings", emb["body"])[1]}
    assert len(body["data"]) == 2 and len(body["data"][0]["embedding"]) == 8
    comp = {
        "custom_id": "c1",
        "method": "POST",
        "url": "/v1/completions",
        "body": {"model": "mock", "prompt": "Say hi"},
    }
    done = api.wait(api.submit([comp], endpoint="/v1/completions")["id"])
    body = api.lines(done["output_file_id"])[0]["response"]["body"]
    assert body["object"] == "text_completion" and body["choices"][0]["text"]


def test_usage_is_summed_over_completed_requests(make_api):
    api = make_api(dialect="openai")
    lines = [chat_line(i) for i in range(10)]
    done = api.wait(api.submit(lines)["id"])
    mock = MockBackend()
    bodies = [mock.respond(CHAT, x["body"])[1]["usage"] for x in lines]
    assert done["usage"]["input_tokens"] == sum(u["prompt_tokens"] for u in bodies)
    assert done["usage"]["output_tokens"] == sum(u["completion_tokens"] for u in bodies)


def test_rate_must_be_positive(make_server):
    with pytest.raises(ValueError):
        make_server(rate=0)


def test_concurrent_batches_each_get_exactly_their_own_answers(make_api, any_dialect):
    api = make_api(dialect=any_dialect, rate=2000.0)
    mock = MockBackend()
    batches = {}
    for k in range(4):
        lines = [chat_line(i, text=f"batch {k} row {i}") for i in range(50)]
        batches[api.submit(lines)["id"]] = lines
    for batch_id, lines in batches.items():
        done = api.wait(batch_id)
        assert done["request_counts"] == {"total": 50, "completed": 50, "failed": 0}
        got = {
            x["custom_id"]: x["response"]["body"]["choices"][0]["message"]["content"]
            for x in api.lines(done["output_file_id"])
        }
        want = {
            x["custom_id"]: mock.respond(CHAT, x["body"])[1]["choices"][0]["message"]["content"]
            for x in lines
        }
        assert got == want
