"""The ``forward`` backend: each request goes to an OpenAI-compatible upstream server."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson

from dw_notebook.server.backends import Backend, Reply
from dw_notebook.server.replies import error_body


class ForwardBackend(Backend):
    """Sends each request to an OpenAI-compatible upstream (vLLM, Ollama, llama.cpp server).

    Options: ``url`` (upstream base URL ending in ``/v1``), ``api_key``, ``concurrency``
    (default 4), ``retries`` (default 3, on connection errors, 429 and 5xx), ``timeout``,
    ``model`` (override the model name sent upstream), ``backoff`` (first retry delay).
    """

    name = "forward"

    def __init__(
        self,
        url: str = "http://127.0.0.1:8000/v1",
        api_key: str | None = None,
        concurrency: int = 4,
        retries: int = 3,
        timeout: float = 600.0,
        model: str | None = None,
        backoff: float = 0.2,
        **_: Any,
    ) -> None:
        self.base = url.rstrip("/")
        self.concurrency = max(1, int(concurrency))
        self.retries = int(retries)
        self.model = model
        self.backoff = float(backoff)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        limits = httpx.Limits(max_connections=self.concurrency)
        self._client = httpx.Client(headers=headers, timeout=timeout, limits=limits)

    def _target(self, url: str) -> str:
        path = url[3:] if url.startswith("/v1/") else url
        return self.base + path

    def handle(self, url: str, body: dict, attempt: int = 0) -> Reply:
        if self.model:
            body = {**body, "model": self.model}
        target = self._target(url)
        last: Reply = (502, error_body("upstream unreachable", "server_error"))
        for n in range(self.retries + 1):
            try:
                resp = self._client.post(
                    target, content=orjson.dumps(body), headers={"Content-Type": "application/json"}
                )
            except httpx.HTTPError as exc:
                last = (502, error_body(f"upstream error: {type(exc).__name__}", "server_error"))
            else:
                try:
                    payload = resp.json()
                except ValueError:
                    payload = error_body(
                        resp.text[:500] or "non-JSON upstream reply", "server_error"
                    )
                if not isinstance(payload, dict):
                    payload = {"data": payload}
                last = (resp.status_code, payload)
                if resp.status_code < 500 and resp.status_code != 429:
                    return last
            if n < self.retries:
                time.sleep(self.backoff * (2**n))
        return last

    def close(self) -> None:
        self._client.close()
