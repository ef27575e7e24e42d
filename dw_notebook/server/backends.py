"""Model backends: answer one request body for one endpoint URL.

Every backend has ``handle(url, body, attempt) -> (status_code, json_body)``, a ``concurrency``
(how many requests the runner may have in flight) and ``close()``. ``MockBackend.respond`` is pure
and deterministic, so tests can compute the expected answer of every row.
"""

from __future__ import annotations

import hashlib
import math
import struct
import time
from typing import Any

import httpx
import orjson

from dw_notebook.server.mock_schema import generate

LABELS = ("positive", "negative", "neutral")
SIMULATED_NOTE = "Answers from the mock backend are simulated, not from a model."

Reply = tuple[int, dict]


def _digest(*parts: Any) -> bytes:
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).digest()


def _tokens(nbytes: int) -> int:
    return max(1, math.ceil(nbytes / 4))


def error_body(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict:
    """The OpenAI error envelope used inside output/error lines."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _max_tokens(body: dict) -> int | None:
    for key in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _truncate(text: str, body: dict) -> tuple[str, int, str]:
    """Cut ``text`` to the request's token budget; returns (text, completion_tokens, finish)."""
    tokens = _tokens(len(text.encode()))
    limit = _max_tokens(body)
    if limit is not None and tokens > limit:
        return text[: limit * 4], limit, "length"
    return text, tokens, "stop"


def chat_reply(rid: str, body: dict, content: str, prompt_bytes: int) -> dict:
    """An OpenAI ``chat.completion`` object answering ``body`` with ``content``."""
    text, completion, finish = _truncate(content, body)
    prompt = _tokens(prompt_bytes)
    return {
        "id": f"chatcmpl-{rid}",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "mock"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
        "system_fingerprint": "fp_local",
    }


def completion_reply(rid: str, body: dict, text: str, prompt_bytes: int) -> dict:
    """An OpenAI ``text_completion`` object."""
    text, completion, finish = _truncate(text, body)
    prompt = _tokens(prompt_bytes)
    return {
        "id": f"cmpl-{rid}",
        "object": "text_completion",
        "created": 0,
        "model": body.get("model", "mock"),
        "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def _inputs(value: Any) -> list:
    if isinstance(value, list) and value and not all(isinstance(v, int) for v in value):
        return value
    return [value]


def _vector(item: Any, dim: int) -> list[float]:
    raw = b""
    counter = 0
    while len(raw) < dim * 4:
        raw += _digest("emb", item, counter)
        counter += 1
    values = [(v / 2**31) - 1.0 for v in struct.unpack(f">{dim}I", raw[: dim * 4])]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 6) for v in values]


class Backend:
    """Interface of a model backend."""

    name = "base"
    concurrency = 1

    def handle(self, url: str, body: dict, attempt: int = 0) -> Reply:  # pragma: no cover
        raise NotImplementedError

    def close(self) -> None:
        """Release resources (connections)."""


class MockBackend(Backend):
    """Deterministic simulated model.

    >>> status, reply = MockBackend().respond("/v1/chat/completions",
    ...     {"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    >>> status, reply["choices"][0]["message"]["content"] in LABELS
    (200, True)

    Options: ``latency`` (seconds per request), ``failure_rate`` (fraction answering 400/500,
    chosen by a stable hash so reruns agree), ``dimension`` (embedding size), ``concurrency``.
    """

    name = "mock"

    def __init__(
        self,
        latency: float = 0.0,
        failure_rate: float = 0.0,
        dimension: int = 8,
        concurrency: int | None = None,
        **_: Any,
    ) -> None:
        self.latency = float(latency)
        self.failure_rate = float(failure_rate)
        self.dimension = int(dimension)
        self.concurrency = concurrency or (16 if self.latency > 0 else 1)

    def handle(self, url: str, body: dict, attempt: int = 0) -> Reply:
        if self.latency > 0:
            time.sleep(self.latency)
        return self.respond(url, body, attempt)

    def failure(self, url: str, body: dict, attempt: int = 0) -> Reply | None:
        """The simulated failure for this request and attempt, or None."""
        if self.failure_rate <= 0:
            return None
        d = _digest("fail", url, body, attempt)
        if int.from_bytes(d[:4], "big") / 2**32 >= self.failure_rate:
            return None
        if d[4] % 2:
            return 500, error_body(
                "The server had an error while processing your request.", "server_error"
            )
        return 400, error_body(
            "This model's maximum context length was exceeded for this request.",
            "invalid_request_error",
            "context_length_exceeded",
            "messages",
        )

    def respond(self, url: str, body: dict, attempt: int = 0) -> Reply:
        """Pure answer to one request (same input, same output)."""
        failed = self.failure(url, body, attempt)
        if failed is not None:
            return failed
        if url.endswith("/chat/completions"):
            return 200, self._chat(body)
        if url.endswith("/embeddings"):
            return 200, self._embeddings(body)
        if url.endswith("/completions"):
            prompt = body.get("prompt", "")
            d = _digest("completion", prompt)
            text = LABELS[d[0] % len(LABELS)]
            return 200, completion_reply(d.hex()[:24], body, text, len(orjson.dumps(prompt)))
        return 404, error_body(f"Unknown endpoint {url}", "invalid_request_error", "unknown_url")

    def _chat(self, body: dict) -> dict:
        messages = body.get("messages", [])
        raw = orjson.dumps(messages, option=orjson.OPT_SORT_KEYS)
        seed = hashlib.sha256(raw).digest()
        fmt = body.get("response_format") or {}
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if kind == "json_schema":
            schema = (fmt.get("json_schema") or {}).get("schema") or {}
            content = orjson.dumps(generate(schema, seed)).decode()
        elif kind == "json_object":
            content = orjson.dumps({"label": LABELS[seed[0] % len(LABELS)]}).decode()
        else:
            content = LABELS[seed[0] % len(LABELS)]
        return chat_reply(seed.hex()[:24], body, content, len(raw))

    def _embeddings(self, body: dict) -> dict:
        items = _inputs(body.get("input", ""))
        dim = body.get("dimensions") if isinstance(body.get("dimensions"), int) else self.dimension
        data = [
            {"object": "embedding", "index": i, "embedding": _vector(item, dim)}
            for i, item in enumerate(items)
        ]
        prompt = sum(_tokens(len(orjson.dumps(item))) for item in items)
        return {
            "object": "list",
            "data": data,
            "model": body.get("model", "mock"),
            "usage": {"prompt_tokens": prompt, "total_tokens": prompt},
        }


def _last_user_text(messages: Any) -> str:
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return "".join(part.get("text", "") for part in content if isinstance(part, dict))
            return content if isinstance(content, str) else ""
    return ""


class EchoBackend(MockBackend):
    """Answers chat with the last user message and completions with the prompt."""

    name = "echo"

    def respond(self, url: str, body: dict, attempt: int = 0) -> Reply:
        rid = _digest("echo", body).hex()[:24]
        if url.endswith("/chat/completions"):
            messages = body.get("messages", [])
            size = len(orjson.dumps(messages))
            return 200, chat_reply(rid, body, _last_user_text(messages), size)
        if url.endswith("/completions") and not url.endswith("/chat/completions"):
            prompt = body.get("prompt", "")
            text = prompt if isinstance(prompt, str) else orjson.dumps(prompt).decode()
            return 200, completion_reply(rid, body, text, len(text.encode()))
        return super().respond(url, body, attempt)


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


BACKENDS: dict[str, type[Backend]] = {
    "mock": MockBackend,
    "echo": EchoBackend,
    "forward": ForwardBackend,
}


def make_backend(name: str, options: dict | None = None) -> Backend:
    """Build the backend called ``name`` with ``options``."""
    try:
        cls = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; choose from {sorted(BACKENDS)}") from None
    return cls(**(options or {}))
