"""OpenAI dialect quirks, through real HTTP."""

from __future__ import annotations

import re

import orjson
from server_support import CHAT, chat_line


def test_ids_status_codes_and_explicit_nulls(make_api):
    api = make_api(dialect="openai", validation_delay=60)
    up = api.upload([chat_line(1)])
    assert up.status_code == 200
    assert re.fullmatch(r"file-[0-9a-f]{24}", up.json()["id"])
    resp = api.http.post(
        "/batches",
        json={"input_file_id": up.json()["id"], "endpoint": CHAT, "completion_window": "24h"},
    )
    assert resp.status_code == 200
    batch = resp.json()
    assert re.fullmatch(r"batch_[0-9a-f]{32}", batch["id"])
    for key in ("output_file_id", "error_file_id", "in_progress_at", "completed_at", "errors"):
        assert key in batch and batch[key] is None
    assert batch["expires_at"] == batch["created_at"] + 24 * 3600


def test_errors_use_the_openai_envelope(make_api):
    api = make_api(dialect="openai")
    resp = api.http.get("/batches/batch_nope")
    assert resp.status_code == 404
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    resp = api.http.post("/batches", json={"endpoint": CHAT, "completion_window": "24h"})
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "input_file_id"


def test_a_bad_file_fails_in_validating_listing_every_bad_line(make_api):
    api = make_api(dialect="openai")
    lines = [
        chat_line(1),
        b"{not json",
        {"custom_id": "row-3", "method": "POST", "url": CHAT},
        chat_line(1),  # duplicate custom_id
        {**chat_line(5), "url": "/v1/embeddings"},
        chat_line(6, stream=True),
        chat_line(7, model="other-model"),
        {"custom_id": "row-8", "method": "POST", "url": CHAT, "body": {"messages": []}},
    ]
    up = api.upload(lines)
    assert up.status_code == 200  # the OpenAI dialect validates later, in `validating`
    batch = api.wait(api.create(up.json()["id"])["id"])
    assert batch["status"] == "failed"
    assert batch["failed_at"] is not None and batch["in_progress_at"] is None
    assert batch["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
    found = {(e["line"], e["code"], e["param"]) for e in batch["errors"]["data"]}
    assert found == {
        (2, "invalid_json_line", None),
        (3, "missing_required_parameter", "body"),
        (4, "duplicate_custom_id", "custom_id"),
        (5, "invalid_url", "url"),
        (6, "streaming_unsupported", "body.stream"),
        (7, "mismatched_model", "body.model"),
        (8, "missing_required_parameter", "body.model"),
    }
    assert batch["output_file_id"] is None and batch["error_file_id"] is None


def test_a_batch_where_every_request_failed_still_ends_completed(make_api):
    api = make_api(dialect="openai", backend_options={"failure_rate": 1.0})
    batch = api.wait(api.submit([chat_line(i) for i in range(6)])["id"])
    assert batch["status"] == "completed"
    assert batch["request_counts"] == {"total": 6, "completed": 0, "failed": 6}
    assert batch["output_file_id"] is None  # an empty file has no id
    errors = api.lines(batch["error_file_id"])
    assert len(errors) == 6 and all(e["response"]["status_code"] >= 400 for e in errors)


def test_no_error_file_id_when_nothing_failed(make_api):
    api = make_api(dialect="openai")
    batch = api.wait(api.submit([chat_line(i) for i in range(3)])["id"])
    assert batch["status"] == "completed"
    assert batch["error_file_id"] is None and batch["output_file_id"]


def test_expiry_ends_expired_with_batch_expired_lines_for_unrun_requests(make_api):
    api = make_api(dialect="openai", rate=20.0)
    created = api.submit([chat_line(i) for i in range(300)])
    api.wait(created["id"], {"in_progress"})
    api.srv.clock.advance(24 * 3600)
    batch = api.wait(created["id"])
    assert batch["status"] == "expired"
    assert batch["expired_at"] >= created["expires_at"]
    counts = batch["request_counts"]
    assert counts["completed"] + counts["failed"] < counts["total"] == 300
    done = api.lines(batch["output_file_id"])
    expired = api.lines(batch["error_file_id"])
    assert len(done) == counts["completed"]
    assert all(e["error"]["code"] == "batch_expired" and e["response"] is None for e in expired)
    assert len(expired) == 300 - counts["completed"]
    assert {x["custom_id"] for x in done}.isdisjoint(x["custom_id"] for x in expired)


def test_openai_dialect_only_accepts_the_24h_window(make_api):
    api = make_api(dialect="openai")
    up = api.upload([chat_line(1)]).json()
    resp = api.http.post(
        "/batches", json={"input_file_id": up["id"], "endpoint": CHAT, "completion_window": "1h"}
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "completion_window"


def test_content_of_an_output_file_is_the_whole_jsonl(make_api):
    api = make_api(dialect="openai")
    batch = api.wait(api.submit([chat_line(i) for i in range(4)])["id"])
    resp = api.http.get(f"/files/{batch['output_file_id']}/content", params={"skip": 2})
    assert len(resp.content.splitlines()) == 4  # no skip/limit in this dialect
    assert all(orjson.loads(x)["error"] is None for x in resp.content.splitlines())


def test_upload_must_be_a_jsonl_file(make_api):
    api = make_api(dialect="openai")
    resp = api.upload([chat_line(1)], filename="input.csv")
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "file"
