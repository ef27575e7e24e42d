"""Doubleword dialect quirks, through real HTTP."""

from __future__ import annotations

import uuid
from decimal import Decimal

from server_support import CHAT, chat_line, jsonl, wait_until

from dw_notebook.server.backends import MockBackend


def test_uuid_ids_201_and_null_fields_omitted(make_api):
    api = make_api(dialect="doubleword", validation_delay=60)
    up = api.upload([chat_line(1)])
    assert up.status_code == 201
    uuid.UUID(up.json()["id"])
    resp = api.http.post(
        "/batches",
        json={"input_file_id": up.json()["id"], "endpoint": CHAT, "completion_window": "24h"},
    )
    assert resp.status_code == 201
    batch = resp.json()
    uuid.UUID(batch["id"])
    assert None not in batch.values()
    for key in ("in_progress_at", "completed_at", "errors", "metadata", "failed_at"):
        assert key not in batch
    assert batch["output_file_id"] and batch["error_file_id"]  # exist from creation


def test_upload_validation_answers_400_plain_text_naming_the_line(make_api):
    api = make_api(dialect="doubleword")
    resp = api.upload([chat_line(1), b"{oops", chat_line(3, stream=True)])
    assert resp.status_code == 400
    assert resp.headers["content-type"].startswith("text/plain")
    assert "Line 2:" in resp.text and "Line 3:" in resp.text
    assert api.http.get("/files").json()["data"] == []  # nothing was kept


def test_duplicate_custom_ids_are_accepted(make_api):
    api = make_api(dialect="doubleword")
    batch = api.wait(api.submit([chat_line(1), chat_line(1)])["id"])
    assert batch["status"] == "completed"
    assert batch["request_counts"]["completed"] == 2


def test_a_line_url_other_than_the_batch_endpoint_is_accepted_and_served_at_its_own_url(
    make_api,
):
    # create_batch checks only that the endpoint is an allowed path; each line keeps its url
    api = make_api(dialect="doubleword")
    embed = {"custom_id": "e", "method": "POST", "url": "/v1/embeddings",
             "body": {"model": "mock", "input": "hello"}}  # fmt: skip
    up = api.upload([chat_line(1), embed]).json()
    resp = api.http.post(
        "/batches",
        json={"input_file_id": up["id"], "endpoint": CHAT, "completion_window": "24h"},
    )
    assert resp.status_code == 201
    done = api.wait(resp.json()["id"])
    assert done["status"] == "completed" and done["request_counts"]["completed"] == 2
    objects = {x["custom_id"]: x["response"]["body"]["object"] for x in api.lines(
        done["output_file_id"])}  # fmt: skip
    assert objects == {"row-1": "chat.completion", "e": "list"}


def test_output_file_grows_while_running_and_pages_with_skip_and_limit(make_api):
    api = make_api(dialect="doubleword", rate=200.0)
    batch = api.submit([chat_line(i) for i in range(120)])
    out = batch["output_file_id"]
    partial = wait_until(
        lambda: (
            (r := api.http.get(f"/files/{out}/content")).status_code == 200
            and 0 < len(r.content.splitlines()) < 120
            and r
        )
    )
    assert partial.headers["X-Incomplete"] == "true"
    assert int(partial.headers["X-Last-Line"]) == len(partial.content.splitlines())
    api.wait(batch["id"])
    full = api.http.get(f"/files/{out}/content")
    assert full.headers["X-Incomplete"] == "false" and full.headers["X-Last-Line"] == "120"
    page = api.http.get(f"/files/{out}/content", params={"skip": 100, "limit": 10})
    assert page.content.splitlines() == full.content.splitlines()[100:110]
    assert page.headers["X-Last-Line"] == "110" and page.headers["X-Incomplete"] == "true"
    tail = api.http.get(f"/files/{out}/content", params={"skip": 110})
    assert tail.content.splitlines() == full.content.splitlines()[110:]
    assert tail.headers["X-Incomplete"] == "false"
    meta = api.http.get(f"/files/{out}").json()
    assert meta["bytes"] == len(full.content) and meta["purpose"] == "batch_output"


def test_output_content_is_404_until_the_batch_leaves_validating(make_api):
    api = make_api(dialect="doubleword", validation_delay=60)
    batch = api.submit([chat_line(1)])
    assert api.http.get(f"/files/{batch['output_file_id']}").status_code == 200
    assert api.http.get(f"/files/{batch['output_file_id']}/content").status_code == 404
    api.srv.clock.advance(60)
    api.wait(batch["id"])
    assert api.http.get(f"/files/{batch['output_file_id']}/content").status_code == 200


def test_window_end_sets_expired_at_and_the_batch_keeps_going(make_api):
    api = make_api(dialect="doubleword", rate=100.0)
    created = api.submit([chat_line(i) for i in range(60)])
    api.wait(created["id"], {"in_progress"})
    api.srv.clock.advance(24 * 3600 + 1)
    marked = wait_until(lambda: "expired_at" in (b := api.batch(created["id"])) and b)
    assert marked["status"] in ("in_progress", "finalizing", "completed")
    done = api.wait(created["id"])
    assert done["status"] == "completed"
    assert done["request_counts"]["completed"] == 60
    assert "expired_at" in done


def test_all_failed_batch_is_reported_failed(make_api):
    api = make_api(dialect="doubleword", backend_options={"failure_rate": 1.0}, max_attempts=1)
    batch = api.wait(api.submit([chat_line(i) for i in range(5)])["id"])
    assert batch["status"] == "failed" and "failed_at" in batch
    assert batch["request_counts"]["failed"] == 5


def _retriable_row(mock: MockBackend, attempts_failing: int) -> dict:
    """An input line whose first ``attempts_failing`` attempts get a 500 from ``mock``."""
    for i in range(10_000):
        line = chat_line(i)
        codes = [mock.respond(CHAT, line["body"], a)[0] for a in range(attempts_failing + 1)]
        if codes == [500] * attempts_failing + [200]:
            return line
    raise AssertionError("no such row")


def test_retriable_failures_are_retried_and_not_counted_until_final(make_api):
    options = {"failure_rate": 0.5}
    api = make_api(dialect="doubleword", backend_options=options, retry_backoff=30)
    line = _retriable_row(MockBackend(**options), 1)
    batch = api.submit([line])
    retrying = api.wait(batch["id"], {"in_progress"})
    wait_until(lambda: api.srv.runner.store.get_batch(batch["id"])["retrying"] == 1)
    retrying = api.batch(batch["id"])
    assert retrying["request_counts"] == {"total": 1, "completed": 0, "failed": 0}
    assert api.lines(batch["error_file_id"]) == []  # a retry is pending, not a final failure
    api.srv.clock.advance(30)
    done = api.wait(batch["id"])
    assert done["status"] == "completed"
    assert done["request_counts"] == {"total": 1, "completed": 1, "failed": 0}


def test_failed_count_moves_backwards_once_the_window_has_passed(make_api):
    options = {"failure_rate": 0.5}
    api = make_api(dialect="doubleword", backend_options=options, retry_backoff=30 * 3600)
    line = _retriable_row(MockBackend(**options), 1)
    batch = api.submit([line])
    wait_until(lambda: api.srv.runner.store.get_batch(batch["id"])["retrying"] == 1)
    api.srv.clock.advance(24 * 3600)  # window over; the retry is 6 h away
    after = wait_until(lambda: "expired_at" in (b := api.batch(batch["id"])) and b)
    assert after["request_counts"]["failed"] == 1  # now counted as failed...
    api.srv.clock.advance(6 * 3600)
    done = api.wait(batch["id"])
    assert done["request_counts"] == {"total": 1, "completed": 1, "failed": 0}  # ...and back


def test_retry_endpoint_reruns_final_failures_and_clears_their_error_lines(make_api):
    options = {"failure_rate": 0.3}
    api = make_api(dialect="doubleword", backend_options=options, max_attempts=1)
    lines = [chat_line(i) for i in range(40)]
    first = api.wait(api.submit(lines)["id"])
    failed_before = first["request_counts"]["failed"]
    assert failed_before > 0
    assert len(api.lines(first["error_file_id"])) == failed_before
    # failures are picked per attempt, so a retry succeeds for most of them
    resp = api.http.post(f"/batches/{first['id']}/retry")
    assert resp.status_code == 200
    assert resp.json()["request_counts"]["failed"] < failed_before
    again = api.wait(first["id"])
    counts = again["request_counts"]
    assert counts["failed"] < failed_before
    assert counts["completed"] + counts["failed"] == 40
    outputs = api.lines(again["output_file_id"])
    errors = api.lines(again["error_file_id"])
    assert len(outputs) == counts["completed"] and len(errors) == counts["failed"]
    assert {x["custom_id"] for x in outputs} | {x["custom_id"] for x in errors} == {
        x["custom_id"] for x in lines
    }


def test_cost_estimate_prices_the_file_for_the_window(make_api):
    api = make_api(dialect="doubleword")
    model = "Qwen/Qwen3-14B-FP8"
    lines = [chat_line(i, model=model, max_tokens=5) for i in range(10)]
    up = api.upload(lines).json()
    day = api.http.get(f"/files/{up['id']}/cost-estimate", params={"completion_window": "24h"})
    hour = api.http.get(f"/files/{up['id']}/cost-estimate", params={"completion_window": "1h"})
    assert day.status_code == hour.status_code == 200
    d, h = day.json(), hour.json()
    assert d["total_requests"] == 10
    assert d["total_estimated_output_tokens"] == 50  # bounded by max_tokens
    body_bytes = sum(len(jsonl([x["body"]])) - 1 for x in lines)
    assert d["total_estimated_input_tokens"] == sum(
        (len(jsonl([x["body"]])) - 1) // 4 for x in lines
    )
    assert body_bytes > 0
    expected = (
        Decimal("0.02") * d["total_estimated_input_tokens"] + Decimal("0.20") * 50
    ) / 1_000_000
    assert Decimal(d["total_estimated_cost"]) == expected.quantize(Decimal("0.000001"))
    assert Decimal(h["total_estimated_cost"]) > Decimal(d["total_estimated_cost"])


def test_rate_limit_fault_has_retry_after_header_and_json_body(make_api):
    # dwctl/src/errors.rs: the body always says 30 s; the header is the fault's (60 there)
    api = make_api(dialect="doubleword")
    api.srv.faults.rate_limit(count=1, retry_after=7)
    resp = api.http.get("/batches")
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "7"
    assert resp.json() == {
        "error": "too_many_requests",
        "message": resp.json()["message"],
        "retry_after_seconds": 30,
    }
    api.srv.faults.server_error(status=503, count=1, retry_after=2)
    resp = api.http.get("/batches")
    assert resp.status_code == 503 and resp.json()["retry_after_seconds"] == 30
    assert resp.json()["error"] == "service_unavailable"
    assert resp.headers["Retry-After"] == "2"
    assert api.http.get("/batches").status_code == 200
