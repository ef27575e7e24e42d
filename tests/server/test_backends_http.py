"""Echo and forward backends, through the server; forward against a tiny upstream server."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from server_support import chat_line


class Upstream:
    """An OpenAI-compatible chat endpoint that records concurrency and can fail at first."""

    def __init__(self, fail_first: int = 0, delay: float = 0.05) -> None:
        self.fail_first, self.delay = fail_first, delay
        self.lock = threading.Lock()
        self.calls = 0
        self.active = 0
        self.max_active = 0
        self.auth: set[str] = set()
        self.models: set[str] = set()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with upstream.lock:
                    upstream.calls += 1
                    n = upstream.calls
                    upstream.active += 1
                    upstream.max_active = max(upstream.max_active, upstream.active)
                    upstream.auth.add(self.headers.get("Authorization", ""))
                    upstream.models.add(body.get("model"))
                time.sleep(upstream.delay)
                with upstream.lock:
                    upstream.active -= 1
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "no such route"}})
                if n <= upstream.fail_first:
                    return self._send(503, {"error": {"message": "warming up"}})
                text = body["messages"][-1]["content"]
                self._send(
                    200,
                    {
                        "id": f"up-{n}",
                        "object": "chat.completion",
                        "created": 1,
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": f"up:{text}"},
                            }
                        ],
                        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
                    },
                )

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def upstream():
    servers = []

    def make(**kw):
        servers.append(Upstream(**kw))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


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
    assert done["usage"]["input_tokens"] == 24 * 3


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
