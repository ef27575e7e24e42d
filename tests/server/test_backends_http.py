"""Echo and forward backends, through the server; forward against a tiny upstream server."""

from __future__ import annotations

import time

import pytest
from server_support import chat_line

from tests.support.chat_server import ChatServer


def up_answer(body: dict) -> dict:
    """The upstream's answer: 'up:' and the last user message, fixed usage."""
    return {
        "id": "up-1",
        "object": "chat.completion",
        "created": 1,
        "model": body["model"],
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {
                    "role": "assistant",
                    "content": f"up:{body['messages'][-1]['content']}",
                },
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


@pytest.fixture
def upstream():
    servers = []

    def make(fail_first=0, delay=0.05):
        servers.append(ChatServer(answer=up_answer, fail_first=fail_first, delay=delay))
        return servers[-1].__enter__()

    yield make
    for s in servers:
        s.__exit__(None, None, None)


def test_echo_backend_returns_the_last_user_message(make_api, any_dialect):
    api = make_api(dialect=any_dialect, backend="echo")
    line = chat_line(1)
    line["body"]["messages"] = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "last "}, {"type": "text", "text": "words"}],
        },
    ]
    done = api.wait(api.submit([line])["id"])
    body = api.lines(done["output_file_id"])[0]["response"]["body"]
    assert body["choices"][0]["message"]["content"] == "last words"


def test_forward_backend_sends_each_request_upstream_within_the_concurrency_limit(
    make_api, upstream
):
    up = upstream()
    api = make_api(
        dialect="doubleword",
        backend="forward",
        backend_options={"url": up.url, "concurrency": 3, "api_key": "up-key", "model": "real"},
    )
    lines = [chat_line(i, text=f"q{i}") for i in range(24)]
    done = api.wait(api.submit(lines)["id"], timeout=30)
    assert done["status"] == "completed"
    outputs = {x["custom_id"]: x["response"]["body"] for x in api.lines(done["output_file_id"])}
    assert {k: v["choices"][0]["message"]["content"] for k, v in outputs.items()} == {
        f"row-{i}": f"up:q{i}" for i in range(24)
    }
    assert up.calls == 24
    assert 1 < up.max_active <= 3
    assert up.auth == {"Bearer up-key"} and up.models == {"real"}
    analytics = api.http.get(f"/batches/{done['id']}/analytics").json()
    assert analytics["total_prompt_tokens"] == 24 * 3  # Doubleword: no usage on the batch


def test_forward_backend_retries_transient_upstream_errors(make_api, upstream):
    up = upstream(fail_first=2, delay=0)
    api = make_api(
        dialect="openai",
        backend="forward",
        backend_options={"url": up.url, "concurrency": 1, "retries": 3, "backoff": 0.01},
    )
    done = api.wait(api.submit([chat_line(1, text="hello")])["id"])
    assert done["request_counts"] == {"total": 1, "completed": 1, "failed": 0}
    assert up.calls == 3
    body = api.lines(done["output_file_id"])[0]["response"]["body"]
    assert body["choices"][0]["message"]["content"] == "up:hello"


def test_forward_backend_reports_an_unreachable_upstream_as_failed_requests(make_api):
    api = make_api(
        dialect="openai",
        backend="forward",
        backend_options={"url": "http://127.0.0.1:9/v1", "retries": 1, "backoff": 0.01},
    )
    done = api.wait(api.submit([chat_line(1)])["id"])
    assert done["request_counts"]["failed"] == 1
    err = api.lines(done["error_file_id"])[0]
    assert err["response"]["status_code"] == 502


def test_mock_latency_is_spent_per_request_in_parallel(make_api):
    api = make_api(
        dialect="openai",
        validation_delay=100,
        backend_options={"latency": 0.1, "concurrency": 10},
    )
    created = api.submit([chat_line(i) for i in range(20)])
    t0 = time.perf_counter()
    api.srv.clock.advance(100)  # nothing ran before this moment
    done = api.wait(created["id"])
    elapsed = time.perf_counter() - t0
    assert done["request_counts"]["completed"] == 20
    assert 0.2 <= elapsed < 1.5  # two rounds of ten, not twenty in a row
