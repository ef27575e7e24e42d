"""Realtime inference routes and the Responses API, over real HTTP: shapes, refusals, streaming,
and background responses polled to completion."""

from __future__ import annotations

import threading

import httpx
import openai
import orjson
import pytest
from server_support import wait_until

from dw_notebook.server.backends import MockBackend

CHAT = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "Is this review positive? It was fine."}]


@pytest.fixture
def dw(make_server):
    """A Doubleword-dialect server and a raw HTTP client for it."""
    srv = make_server(dialect="doubleword")
    with httpx.Client(
        base_url=srv.base_url, headers={"Authorization": f"Bearer {srv.token}"}, timeout=30
    ) as http:
        yield srv, http


def _gate(srv) -> threading.Event:
    """Hold every backend call until the returned event is set (so ``in_progress`` is seen)."""
    release = threading.Event()
    handle = srv.backend.handle

    def held(url, body, attempt=0):
        assert release.wait(30), "the test never released the backend"
        return handle(url, body, attempt)

    srv.backend.handle = held
    return release


def _settled(http: httpx.Client, rid: str) -> dict:
    """Poll ``GET /responses/{rid}`` until it leaves ``queued``/``in_progress``."""

    def check() -> dict | None:
        got = http.get(f"/responses/{rid}").json()
        return None if got["status"] in ("queued", "in_progress") else got

    return wait_until(check, what=f"response {rid} to finish")


def test_chat_completion_is_the_backends_answer(sdk):
    _, client = sdk
    got = client.chat.completions.create(model="mock", messages=MESSAGES)
    _, want = MockBackend().respond(CHAT, {"model": "mock", "messages": MESSAGES})
    assert got.choices[0].message.content == want["choices"][0]["message"]["content"]
    assert got.usage.prompt_tokens == want["usage"]["prompt_tokens"]


def test_embeddings_and_completions_are_the_backends_answers(sdk):
    _, client = sdk
    got = client.embeddings.create(model="mock", input=["alpha", "beta"])
    _, want = MockBackend().respond("/v1/embeddings", {"model": "mock", "input": ["alpha", "beta"]})
    assert [d.embedding for d in got.data] == [d["embedding"] for d in want["data"]]
    text = client.completions.create(model="mock", prompt="Say a label")
    _, want = MockBackend().respond("/v1/completions", {"model": "mock", "prompt": "Say a label"})
    assert text.choices[0].text == want["choices"][0]["text"]


@pytest.mark.parametrize("path", [CHAT, "/v1/embeddings", "/v1/responses"])
def test_unknown_model_is_404_model_not_found(sdk, path):
    srv, client = sdk
    body = {"model": "no-such-model", "messages": MESSAGES, "input": "hi"}
    resp = httpx.post(
        srv.base_url + path[3:], json=body, headers={"Authorization": f"Bearer {srv.token}"}
    )
    assert resp.status_code == 404
    error = resp.json()["error"]
    assert error["code"] == "model_not_found" and "no-such-model" in error["message"]


def test_unknown_model_on_flex_is_403_in_doubleword(dw):
    _, http = dw
    for path, body in (
        ("/chat/completions", {"messages": MESSAGES}),
        ("/responses", {"input": "hi", "background": True}),
    ):
        resp = http.post(path, json={"model": "nope", "service_tier": "flex", **body})
        assert resp.status_code == 403, path
        assert resp.json()["error"]["message"].startswith("You do not have access to 'nope'")


def test_inference_needs_the_api_key(sdk):
    srv, _ = sdk
    resp = httpx.post(f"{srv.base_url}/chat/completions", json={"model": "mock", "messages": []})
    assert resp.status_code == 401


def test_unparseable_body_is_400(sdk):
    srv, _ = sdk
    resp = httpx.post(
        f"{srv.base_url}/chat/completions",
        content=b"{not json",
        headers={"Authorization": f"Bearer {srv.token}"},
    )
    assert resp.status_code == 400


def test_streamed_chat_replays_the_whole_answer_then_done(sdk):
    srv, client = sdk
    stream = client.chat.completions.create(
        model="mock", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    whole = client.chat.completions.create(model="mock", messages=MESSAGES)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[-1].usage.total_tokens == whole.usage.total_tokens
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    raw = httpx.post(
        f"{srv.base_url}/chat/completions",
        json={"model": "mock", "messages": MESSAGES, "stream": True},
        headers={"Authorization": f"Bearer {srv.token}"},
    )
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.text.rstrip().endswith("data: [DONE]")


def test_streamed_response_ends_with_response_completed(sdk):
    _, client = sdk
    events = list(client.responses.create(model="mock", input="hello", stream=True))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    delta = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert delta == events[-1].response.output_text
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_response_is_answered_by_the_chat_backend(sdk):
    _, client = sdk
    got = client.responses.create(model="mock", input=MESSAGES, instructions="Label it.")
    chat = [{"role": "system", "content": "Label it."}, *MESSAGES]
    _, want = MockBackend().respond(CHAT, {"model": "mock", "messages": chat})
    assert got.status == "completed"
    assert got.output_text == want["choices"][0]["message"]["content"]
    assert got.usage.input_tokens == want["usage"]["prompt_tokens"]


def test_response_with_tools_answers_a_function_call(sdk):
    _, client = sdk
    tool = {
        "type": "function",
        "name": "set_label",
        "parameters": {
            "type": "object",
            "properties": {"label": {"type": "string", "enum": ["good", "bad"]}},
            "required": ["label"],
        },
    }
    got = client.responses.create(model="mock", input="rate it", tools=[tool])
    call = next(item for item in got.output if item.type == "function_call")
    assert call.name == "set_label" and orjson.loads(call.arguments)["label"] in ("good", "bad")


def test_background_flex_response_is_queued_then_in_progress_then_completed(dw):
    srv, http = dw
    release = _gate(srv)
    body = {"model": "mock", "input": "hello", "background": True, "service_tier": "flex"}
    accepted = http.post("/responses", json=body)
    assert accepted.status_code == 202
    first = accepted.json()
    assert (first["status"], first["background"], first["service_tier"]) == ("queued", True, "flex")
    rid = first["id"]
    wait_until(lambda: http.get(f"/responses/{rid}").json()["status"] == "in_progress")
    release.set()
    done = _settled(http, rid)
    assert done["status"] == "completed"
    _, want = MockBackend().respond(CHAT, {"model": "mock", "messages": [
        {"role": "user", "content": "hello"}]})  # fmt: skip
    text = done["output"][0]["content"][0]["text"]
    assert text == want["choices"][0]["message"]["content"]
    assert done["service_tier"] == "flex" and done["background"] is True
    assert done["usage"]["total_tokens"] == want["usage"]["total_tokens"]


def test_background_realtime_response_starts_in_progress(dw):
    srv, http = dw
    release = _gate(srv)
    accepted = http.post("/responses", json={"model": "mock", "input": "hi", "background": True})
    assert accepted.status_code == 202 and accepted.json()["status"] == "in_progress"
    release.set()
    assert _settled(http, accepted.json()["id"])["status"] == "completed"


def test_flex_response_without_background_waits_and_reads_as_its_row(dw):
    _, http = dw
    resp = http.post("/responses", json={"model": "mock", "input": "hi", "service_tier": "flex"})
    assert resp.status_code == 200
    got = resp.json()
    assert (got["status"], got["service_tier"], got["background"]) == ("completed", "flex", False)
    assert got["output"][0]["content"][0]["text"]


def test_background_tier_needs_background_true(dw):
    _, http = dw
    resp = http.post(
        "/responses", json={"model": "mock", "input": "hi", "service_tier": "background"}
    )
    assert resp.status_code == 400 and "background: true" in resp.json()["error"]["message"]


def test_backend_failure_reaches_the_caller(make_server):
    srv = make_server(dialect="doubleword", backend_options={"failure_rate": 1.0})
    auth = {"Authorization": f"Bearer {srv.token}"}
    with httpx.Client(base_url=srv.base_url, headers=auth, timeout=30) as http:
        chat = http.post("/chat/completions", json={"model": "mock", "messages": MESSAGES})
        assert chat.status_code in (400, 500) and chat.json()["error"]["message"]
        body = {"model": "mock", "input": "x", "background": True, "service_tier": "flex"}
        rid = http.post("/responses", json=body).json()["id"]
        failed = _settled(http, rid)
        assert failed["status"] == "failed" and failed["error"]["code"] in (400, 500)


def test_unknown_response_id_is_404_and_delete_forgets(sdk):
    srv, client = sdk
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve("resp_00000000-0000-0000-0000-000000000000")
    made = client.responses.create(model="mock", input="hi")
    assert client.responses.retrieve(made.id).status == "completed"
    client.responses.delete(made.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(made.id)


def test_background_response_in_openai_dialect_is_200_queued(make_server):
    srv = make_server(dialect="openai")
    auth = {"Authorization": f"Bearer {srv.token}"}
    with httpx.Client(base_url=srv.base_url, headers=auth, timeout=30) as http:
        body = {"model": "mock", "input": "hi", "background": True, "service_tier": "flex"}
        accepted = http.post("/responses", json=body)
        assert accepted.status_code == 200 and accepted.json()["status"] == "queued"
        assert _settled(http, accepted.json()["id"])["status"] == "completed"
