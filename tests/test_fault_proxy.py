"""The fault proxy used by the reliability and interop tests does what it says, over real HTTP."""

from __future__ import annotations

import httpx
import orjson
import pytest
from support.proxy import Reply

from dw_notebook.client import BatchClient
from dw_notebook.errors import TransportError

LINE = orjson.dumps({
    "custom_id": "a", "method": "POST", "url": "/v1/chat/completions",
    "body": {"model": "mock", "messages": [{"role": "user", "content": "hi"}]},
}) + b"\n"  # fmt: skip


def test_forwards_by_default_and_counts(proxy, server):
    with BatchClient(proxy.base_url, server.token, max_retries=0) as client:
        assert client.list_models()
    assert proxy.count("GET", "/models") == 1


def test_drop_forwards_the_request_then_cuts_the_answer(proxy, server):
    proxy.drop("POST", "^/files$")
    with BatchClient(proxy.base_url, server.token, max_retries=0) as client:
        with pytest.raises(TransportError):
            client.upload_file(LINE, filename="x.jsonl")
        files = client._json("GET", "files")["data"]
    assert len(files) == 1  # the server got the upload although the client never heard


def test_answer_without_forwarding_and_rewrite(proxy, server):
    proxy.answer(
        "GET", "/models", 200, b"<html>captive portal</html>", {"content-type": "text/html"}
    )
    with httpx.Client() as http:
        got = http.get(
            proxy.base_url + "/models", headers={"Authorization": f"Bearer {server.token}"}
        )
        assert got.text.startswith("<html>")

        def add_field(reply: Reply, path: str) -> Reply:
            return Reply(
                reply.status, reply.headers, reply.body.replace(b'"object"', b'"x":1,"object"', 1)
            )

        proxy.rewrite("GET", "/models", add_field)
        got = http.get(
            proxy.base_url + "/models", headers={"Authorization": f"Bearer {server.token}"}
        )
        assert got.json()["x"] == 1


def test_skip_lets_the_first_requests_through_and_held_answers_are_counted(proxy, server):
    proxy.hold("GET", "^/models$", 0.5, skip=1)
    with BatchClient(proxy.base_url, server.token, max_retries=0, timeout=10) as client:
        assert client.list_models()  # the first one passes
        with pytest.raises(TransportError):
            client.list_models()  # the second is answered upstream, then held and cut
    assert proxy.count("GET", "^/models$") == 2
    assert proxy.answered_upstream("GET", "^/models$", action="hold") == 1
