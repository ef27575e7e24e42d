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
    assert set(up.json()) == {"id", "object", "bytes", "created_at", "filename", "purpose",
                              "expires_at"}  # FileResponse: no status  # fmt: skip
    resp = api.http.post(
        "/batches",
        json={"input_file_id": up.json()["id"], "endpoint": CHAT, "completion_window": "24h"},
    )
    assert resp.status_code == 201
    batch = resp.json()
    uuid.UUID(batch["id"])
    assert None not in batch.values()
    for key in ("in_progress_at", "completed_at", "errors", "failed_at", "usage", "model"):
        assert key not in batch
    assert batch["metadata"] == {"request_source": "api"} and batch["dwext"] == {"source": "api"}
    assert batch["output_file_id"] and batch["error_file_id"]  # exist from creation


def test_upload_stops_at_the_first_bad_line_with_plain_text_naming_it(make_api):
    api = make_api(dialect="doubleword")
    resp = api.upload([chat_line(1), b"", b"{oops", chat_line(3, stream=True), b"{again"])
    assert resp.status_code == 400
    assert resp.headers["content-type"].startswith("text/plain")
    # numbered as requests: the blank line does not count; only the first error is told
    assert resp.text.startswith("Invalid JSON on line 2: ") and "line 4" not in resp.text
    assert api.http.get("/files").json()["data"] == []  # nothing was kept


def test_upload_checks_each_url_against_the_allowed_paths_and_each_model_against_models(
    make_api,
):
    api = make_api(dialect="doubleword")
    moderation = {"custom_id": "m", "method": "POST", "url": "/v1/moderations",
                  "body": {"model": "mock", "input": "x"}}  # fmt: skip
    resp = api.upload([chat_line(1), moderation])
    assert resp.status_code == 400
    assert resp.text == (
        "Line 2: Unsupported URL path '/v1/moderations'. Allowed paths are: "
        "/v1/chat/completions, /v1/completions, /v1/embeddings, /v1/responses"
    )
    resp = api.upload([chat_line(1, model="nope")])
    assert resp.status_code == 403
    assert resp.text == "Line 1: Model 'nope' has not been configured or is not available to user"
    assert api.http.get("/files").json()["data"] == []
    # several models in one file, and stream: true, are accepted
    mixed = [chat_line(1), chat_line(2, model="Qwen/Qwen3-14B-FP8"), chat_line(3, stream=True)]
    assert api.upload(mixed).status_code == 201


def test_a_request_body_over_10_mb_is_refused_at_upload(make_api):
    api = make_api(dialect="doubleword")
    big = chat_line(2, text="x" * (10 * 1024 * 1024))
    resp = api.upload([chat_line(1), big])
    assert resp.status_code == 400
    assert resp.text.startswith("Line 2: Request body is ")
    assert resp.text.endswith("exceeds the maximum allowed size of 10485760 bytes")


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


def test_output_content_is_empty_200_and_incomplete_while_the_batch_validates(make_api):
    api = make_api(dialect="doubleword", validation_delay=60)
    batch = api.submit([chat_line(1)])
    out = batch["output_file_id"]
    assert api.http.get(f"/files/{out}").status_code == 200
    resp = api.http.get(f"/files/{out}/content", params={"skip": 5})
    assert resp.status_code == 200 and resp.content == b""
    assert resp.headers["X-Incomplete"] == "true" and resp.headers["X-Last-Line"] == "5"
    api.srv.clock.advance(60)
    api.wait(batch["id"])
    assert len(api.http.get(f"/files/{out}/content").content.splitlines()) == 1


def test_content_reads_skip_and_limit_only_with_headers_from_the_batch_counts(make_api):
    api = make_api(dialect="doubleword")
    done = api.wait(api.submit([chat_line(i) for i in range(150)])["id"])
    out = done["output_file_id"]
    whole = api.http.get(f"/files/{out}/content").content.splitlines()
    offset = api.http.get(f"/files/{out}/content", params={"offset": 100})
    assert offset.content.splitlines() == whole and offset.headers["X-Last-Line"] == "150"
    capped = api.http.get(f"/files/{out}/content", params={"limit": 1000})
    assert capped.content.splitlines() == whole[:101]  # limit is clamped to 101
    assert capped.headers["X-Last-Line"] == "101" and capped.headers["X-Incomplete"] == "true"
    one = api.http.get(f"/files/{out}/content", params={"limit": 0, "skip": 149})
    assert one.content.splitlines() == whole[149:] and one.headers["X-Incomplete"] == "false"
    past = api.http.get(f"/files/{out}/content", params={"skip": 400})
    assert past.content == b"" and past.headers["X-Last-Line"] == "400"  # not lines sent
    assert api.http.get(f"/files/{out}/content", params={"skip": "x"}).status_code == 400
    source = api.http.get(f"/files/{done['input_file_id']}/content")
    assert len(source.content.splitlines()) == 150
    assert "X-Last-Line" not in source.headers and source.headers["X-Incomplete"] == "false"


def test_a_batch_cancelled_before_population_leaves_its_files_incomplete_for_ever(make_api):
    api = make_api(dialect="doubleword", validation_delay=60)
    batch = api.submit([chat_line(1)])
    api.http.post(f"/batches/{batch['id']}/cancel")
    api.srv.clock.advance(3600)
    api.srv.runner.call(lambda: None).result(timeout=30)
    for fid in (batch["output_file_id"], batch["error_file_id"]):
        resp = api.http.get(f"/files/{fid}/content")
        assert resp.content == b"" and resp.headers["X-Incomplete"] == "true"


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


def test_expired_at_is_the_deadline_on_any_batch_viewed_after_it_finished_or_not(make_api):
    api = make_api(dialect="doubleword")
    done = api.wait(api.submit([chat_line(1)])["id"])
    assert "expired_at" not in done
    api.srv.clock.advance(24 * 3600 + 1)
    later = api.batch(done["id"])
    assert later["status"] == "completed" and later["expired_at"] == later["expires_at"]


def test_a_batch_the_engine_fails_before_population_shows_no_errors_list(make_api):
    # mark_batch_failed stores {"message": ...}, which does not parse as BatchErrors
    api = make_api(dialect="doubleword", validation_delay=60)
    batch = api.submit([chat_line(1)])
    api.srv.runner.life.files.path(batch["input_file_id"]).write_bytes(b"\n")  # unreadable
    api.srv.clock.advance(60)
    failed = api.wait(batch["id"])
    assert failed["status"] == "failed" and "failed_at" in failed
    assert "errors" not in failed and "in_progress_at" not in failed
    stored = api.srv.runner.store.get_batch(batch["id"])["errors"]
    assert stored == '{"message":"File contains no valid request templates"}'


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


def _body_bytes(lines: list[dict]) -> int:
    return sum(len(jsonl([x["body"]])) - 1 for x in lines)


def test_cost_estimate_without_history_is_bytes_over_4_in_and_1_1_times_that_out(make_api):
    api = make_api(dialect="doubleword")
    model = "Qwen/Qwen3-14B-FP8"
    lines = [chat_line(i, model=model, max_tokens=5) for i in range(10)]
    up = api.upload(lines).json()
    day = api.http.get(f"/files/{up['id']}/cost-estimate", params={"completion_window": "24h"})
    hour = api.http.get(f"/files/{up['id']}/cost-estimate", params={"completion_window": "1h"})
    assert day.status_code == hour.status_code == 200
    d, h = day.json(), hour.json()
    tokens_in = _body_bytes(lines) // 4  # of all the model's bodies, not line by line
    tokens_out = int(tokens_in * 1.1)  # max_tokens is not read
    assert (d["total_requests"], d["total_estimated_input_tokens"]) == (10, tokens_in)
    assert d["total_estimated_output_tokens"] == tokens_out > 50
    expected = (Decimal("0.02") * tokens_in + Decimal("0.20") * tokens_out) / 1_000_000
    assert Decimal(d["total_estimated_cost"]) == expected
    assert d["models"] == [{"model": model, "request_count": 10,
                            "estimated_input_tokens": tokens_in,
                            "estimated_output_tokens": tokens_out,
                            "estimated_cost": d["total_estimated_cost"]}]  # fmt: skip
    assert "completion_window" not in d and d["file_id"] == up["id"]
    assert Decimal(h["total_estimated_cost"]) > Decimal(d["total_estimated_cost"])
    odd = api.http.get(f"/files/{up['id']}/cost-estimate", params={"completion_window": "7d"})
    assert odd.status_code == 200  # the window is not validated


def test_cost_estimate_uses_the_models_recent_average_output_and_0_without_a_tariff(make_api):
    api = make_api(dialect="doubleword")
    model = "Qwen/Qwen3-14B-FP8"
    ran = [chat_line(i, model=model) for i in range(7)]
    api.wait(api.submit(ran)["id"])
    mock = MockBackend()
    outs = [mock.respond(CHAT, x["body"])[1]["usage"]["completion_tokens"] for x in ran]
    average = int((Decimal(sum(outs)) / len(outs)).quantize(Decimal(1), "ROUND_HALF_UP"))
    lines = [chat_line(100 + i, model=model) for i in range(4)] + [chat_line(1)]  # + mock
    up = api.upload(lines).json()
    got = {m["model"]: m for m in api.http.get(f"/files/{up['id']}/cost-estimate").json()["models"]}
    assert got[model]["estimated_output_tokens"] == average * 4
    assert got["mock"]["estimated_cost"] == "0"
    embed = {"custom_id": "e", "method": "POST", "url": "/v1/embeddings",
             "body": {"model": "Qwen/Qwen3-Embedding-8B", "input": "hello there"}}  # fmt: skip
    up = api.upload([embed, {**embed, "custom_id": "f"}]).json()
    est = api.http.get(f"/files/{up['id']}/cost-estimate").json()
    assert est["total_estimated_output_tokens"] == 2  # one per request for an embedding model


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
