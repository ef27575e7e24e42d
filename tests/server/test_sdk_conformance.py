"""The official openai SDK as the client, against both dialects: every response must parse."""

from __future__ import annotations

import openai
import orjson
import pytest
from openai.types import Batch, FileObject
from server_support import TERMINAL, chat_line, jsonl, wait_until

from dw_notebook.server.backends import MockBackend


@pytest.fixture
def sdk(make_server, any_dialect):
    srv = make_server(dialect=any_dialect)
    client = openai.OpenAI(base_url=srv.base_url, api_key=srv.token, max_retries=0)
    yield srv, client
    client.close()


def _submit(client: openai.OpenAI, lines: list) -> Batch:
    uploaded = client.files.create(file=("in.jsonl", jsonl(lines)), purpose="batch")
    assert isinstance(uploaded, FileObject)
    assert uploaded.purpose == "batch" and uploaded.bytes == len(jsonl(lines))
    return client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )


def _poll(client: openai.OpenAI, batch_id: str, statuses: set[str] = TERMINAL) -> Batch:
    return wait_until(
        lambda: (b := client.batches.retrieve(batch_id)).status in statuses and b, what="batch"
    )


def test_sdk_runs_a_batch_and_each_output_line_answers_its_own_request(sdk):
    srv, client = sdk
    lines = [chat_line(i) for i in range(25)]
    batch = _submit(client, lines)
    assert batch.status == "validating"
    done = _poll(client, batch.id)
    assert done.status == "completed"
    assert done.request_counts.total == 25 and done.request_counts.completed == 25
    assert done.completed_at >= done.in_progress_at >= done.created_at

    content = client.files.content(done.output_file_id).read()
    rows = [orjson.loads(x) for x in content.splitlines()]
    by_id = {line["custom_id"]: line for line in lines}
    assert sorted(r["custom_id"] for r in rows) == sorted(by_id)
    mock = MockBackend()
    for row in rows:
        status, expected = mock.respond("/v1/chat/completions", by_id[row["custom_id"]]["body"])
        got = row["response"]["body"]
        assert row["response"]["status_code"] == status == 200
        parsed = openai.types.chat.ChatCompletion.model_validate(got)
        assert parsed.choices[0].message.content == expected["choices"][0]["message"]["content"]
    assert len({r["response"]["body"]["choices"][0]["message"]["content"] for r in rows}) > 1


def test_sdk_cancel_returns_a_cancelling_batch_that_ends_cancelled(make_server, any_dialect):
    srv = make_server(dialect=any_dialect, rate=5.0)
    client = openai.OpenAI(base_url=srv.base_url, api_key=srv.token, max_retries=0)
    batch = _submit(client, [chat_line(i) for i in range(200)])
    _poll(client, batch.id, {"in_progress"})
    cancelling = client.batches.cancel(batch.id)
    # Doubleword: a populated batch reads cancelled at once (one still validating would stay
    # cancelling for ever: test_dw_cancel.py)
    assert cancelling.status == ("cancelling" if any_dialect == "openai" else "cancelled")
    assert cancelling.cancelling_at is not None
    done = _poll(client, batch.id)
    assert done.status == "cancelled"
    assert done.request_counts.completed < 200
    client.close()


def test_sdk_lists_batches_newest_first_across_pages(sdk):
    srv, client = sdk
    upload = client.files.create(file=("in.jsonl", jsonl([chat_line(1)])), purpose="batch")
    made = []
    for _ in range(5):
        made.append(
            client.batches.create(
                input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h"
            ).id
        )
    first = client.batches.list(limit=2)
    assert [b.id for b in first.data] == made[::-1][:2]
    assert first.has_more
    seen = [b.id for b in client.batches.list(limit=2)]  # auto-pagination follows `after`
    assert seen == made[::-1]


def test_sdk_lists_files_across_pages_and_deletes(sdk):
    srv, client = sdk
    ids = [
        client.files.create(file=(f"f{i}.jsonl", jsonl([chat_line(i)])), purpose="batch").id
        for i in range(5)
    ]
    listed = [f.id for f in client.files.list(limit=2, purpose="batch")]
    assert listed == ids[::-1]
    deleted = client.files.delete(ids[0])
    assert deleted.deleted and deleted.id == ids[0]
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(ids[0])


def test_sdk_sees_models_and_rejects_a_wrong_key(sdk):
    srv, client = sdk
    names = {m.id for m in client.models.list()}
    assert {"mock", "Qwen/Qwen3-14B-FP8", "openai/gpt-oss-20b"} <= names
    bad = openai.OpenAI(base_url=srv.base_url, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    bad.close()


def test_sdk_gets_an_error_file_for_failed_requests(make_server, any_dialect):
    srv = make_server(dialect=any_dialect, backend_options={"failure_rate": 0.5}, max_attempts=1)
    client = openai.OpenAI(base_url=srv.base_url, api_key=srv.token, max_retries=0)
    done = _poll(client, _submit(client, [chat_line(i) for i in range(40)]).id)
    counts = done.request_counts
    assert counts.failed > 0 and counts.completed > 0
    assert counts.failed + counts.completed == 40
    errors = [orjson.loads(x) for x in client.files.content(done.error_file_id).read().splitlines()]
    assert len(errors) == counts.failed
    assert all(e["response"]["status_code"] in (400, 500) for e in errors)
    assert all("error" in e["response"]["body"] for e in errors)
    client.close()


def test_every_object_validates_strictly_in_the_sdk_models(make_api, any_dialect):
    """Strict pydantic validation (stricter than the SDK's own lenient parsing)."""
    api = make_api(dialect=any_dialect, backend_options={"failure_rate": 0.3}, max_attempts=1)
    up = api.upload([chat_line(i) for i in range(30)])

    def file_ok(obj: dict) -> None:
        if any_dialect == "doubleword":  # its files have no status (the SDK parses them
            assert "status" not in obj  # leniently: test_sdk_runs_a_batch_and_each_...)
            obj = {**obj, "status": "processed"}
        FileObject.model_validate(obj)

    file_ok(up.json())
    fid = up.json()["id"]
    file_ok(api.http.get(f"/files/{fid}").json())
    for f in api.http.get("/files").json()["data"]:
        file_ok(f)
    created = api.create(fid, metadata={"k": "v"})
    Batch.model_validate(created)
    done = api.wait(created["id"])
    Batch.model_validate(done)
    if any_dialect == "openai":
        assert done["usage"]["total_tokens"] > 0
    else:  # Doubleword: tokens only from analytics
        analytics = api.http.get(f"/batches/{done['id']}/analytics").json()
        assert analytics["total_tokens"] > 0 and "usage" not in done
    assert done["request_counts"]["failed"] > 0
    out = api.http.get(f"/files/{done['output_file_id']}").json()
    file_ok(out)
    cancelled = api.create(fid)
    api.http.post(f"/batches/{cancelled['id']}/cancel")
    # Doubleword: cancelled before population, a batch stays cancelling for ever
    ends = TERMINAL | ({"cancelling"} if any_dialect == "doubleword" else set())
    Batch.model_validate(api.wait(cancelled["id"], ends))
    for b in api.http.get("/batches").json()["data"]:
        Batch.model_validate(b)
    bad = api.upload([chat_line(1), chat_line(1, model="other")])
    if any_dialect == "openai":
        failed = api.wait(api.create(bad.json()["id"])["id"])
        assert failed["status"] == "failed"
        Batch.model_validate(failed)
    else:  # Doubleword: mixed models are fine, a model the key cannot use is 403 at upload
        assert bad.status_code == 403
    expiring = api.create(fid)
    api.srv.clock.advance(25 * 3600)
    Batch.model_validate(api.wait(expiring["id"]))
    for line in api.lines(done["output_file_id"]):
        openai.types.chat.ChatCompletion.model_validate(line["response"]["body"])
