"""A tiny OpenAI-compatible model server (``/v1/models``, ``/v1/chat/completions``) answering
with the mock backend, to stand in for vLLM or Ollama behind the ``forward`` backend."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from dw_notebook.server.backends import MockBackend


class ChatServer:
    """Serves ``model`` on 127.0.0.1 and counts the chat requests it answered."""

    def __init__(self, model: str = "tiny-local-model") -> None:
        self.model = model
        self.calls = 0
        self.models_seen: set[str] = set()
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
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "no such route"}})
                with outer._lock:
                    outer.calls += 1
                    outer.models_seen.add(body.get("model"))
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
