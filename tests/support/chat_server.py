"""A tiny OpenAI-compatible model server (``/v1/models``, ``/v1/chat/completions``) to stand in
for vLLM or Ollama behind the ``forward`` backend; it records what it was sent."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from dw_notebook.server.backends import MockBackend


class ChatServer:
    """Serves ``model`` on 127.0.0.1: each chat request is answered by ``answer(body)`` (the
    mock backend by default) after ``delay`` seconds, the first ``fail_first`` with a 503. It
    counts the calls and records the most in flight at once, the auth headers and the models."""

    def __init__(
        self,
        model: str = "tiny-local-model",
        answer: Callable[[dict], dict] | None = None,
        fail_first: int = 0,
        delay: float = 0.0,
    ) -> None:
        self.model = model
        self.calls = self.active = self.max_active = 0
        self.auth: set[str] = set()
        self.models: set[str] = set()
        self._lock = threading.Lock()
        backend = MockBackend()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                if self.path != "/v1/models":
                    return self._send(404, {"error": {"message": "no such route"}})
                self._send(
                    200, {"object": "list", "data": [{"id": outer.model, "object": "model"}]}
                )

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer._lock:
                    outer.calls += 1
                    n = outer.calls
                    outer.active += 1
                    outer.max_active = max(outer.max_active, outer.active)
                    outer.auth.add(self.headers.get("Authorization", ""))
                    outer.models.add(body.get("model"))
                time.sleep(delay)
                with outer._lock:
                    outer.active -= 1
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "no such route"}})
                if n <= fail_first:
                    return self._send(503, {"error": {"message": "warming up"}})
                if answer is not None:
                    return self._send(200, answer(body))
                self._send(*backend.respond(self.path, body))

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
