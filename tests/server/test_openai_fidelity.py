"""The local server in the OpenAI dialect answers as OpenAI does where a client can tell."""

from __future__ import annotations

import time

import httpx
import orjson
import pandas as pd
import pytest
from support.proxy import FaultProxy

import dw_notebook as dw
from dw_notebook.client import BatchClient
from dw_notebook.errors import BadRequestError

LINE = orjson.dumps({
    "custom_id": "a", "method": "POST", "url": "/v1/chat/completions",
    "body": {"model": "mock", "messages": [{"role": "user", "content": "hi"}]},
}) + b"\n"  # fmt: skip


@pytest.fixture
def openai_server(make_server):
    return make_server(dialect="openai", validation_delay=0.3)


def test_metadata_errors_name_the_offending_key(openai_server):
    with BatchClient(openai_server.base_url, openai_server.token, max_retries=0) as client:
        file_id = client.upload_file(LINE)["id"]
        with pytest.raises(BadRequestError) as raised:
            client.create_batch(file_id, "/v1/chat/completions", metadata={"tags": ["a"]})
        envelope = raised.value.body["error"]
        assert envelope["param"] == "metadata.tags" and envelope["code"] == "invalid_type"
        assert "Invalid type for 'metadata.tags'" in envelope["message"]
        with pytest.raises(BadRequestError) as raised:
            body = {"input_file_id": file_id, "endpoint": "/v1/chat/completions"}
            client._json("POST", "batches", json=body)
        error = raised.value.body["error"]
        assert (error["code"], error["param"]) == (
            "missing_required_parameter",
            "completion_window",
        )


def test_an_input_file_in_use_may_be_deleted_and_the_batch_still_runs(openai_server):
    with BatchClient(openai_server.base_url, openai_server.token, max_retries=0) as client:
        file_id = client.upload_file(LINE)["id"]
        batch = client.create_batch(file_id, "/v1/chat/completions")
        assert client.delete_file(file_id)["deleted"] is True
        for _ in range(200):
            batch = client.get_batch(batch["id"])
            if batch["status"] in ("completed", "failed"):
                break
            time.sleep(0.05)
        assert batch["status"] == "completed" and batch["request_counts"]["completed"] == 1
    left = [p.name for p in (openai_server.data_dir / "files").iterdir()]
    assert file_id not in " ".join(left), "its bytes are dropped once the batch has ended"


def test_401_is_the_openai_error_envelope(openai_server):
    got = httpx.get(openai_server.base_url + "/models", headers={"Authorization": "Bearer no"})
    assert got.status_code == 401
    error = got.json()["error"]
    assert error["code"] == "invalid_api_key" and error["type"] == "invalid_request_error"
    assert error["message"]


def test_base_url_without_api_key_for_a_server_that_needs_none(openai_server):
    server = openai_server
    auth = {"Authorization": f"Bearer {server.token}"}
    with FaultProxy(server.base_url, upstream_headers=auth) as keyless:
        df = pd.DataFrame({"t": ["a", "b"]})
        out = dw.submit(df, "Echo: {t}", model="mock", base_url=keyless.base_url).join(timeout=30)
        assert out["status"].eq("ok").all()
        assert not any("authorization" in seen.headers for seen in keyless.seen)
