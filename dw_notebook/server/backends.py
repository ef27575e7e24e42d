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

import orjson

from dw_notebook.server.mock_schema import generate_cached
from dw_notebook.server.replies import (
    chat_reply,
    completion_reply,
    error_body,
    moderation_reply,
    response_reply,
    tokens,
    tool_call_reply,
)

LABELS = ("positive", "negative", "neutral")

Reply = tuple[int, dict]


def _digest(*parts: Any) -> bytes:
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).digest()


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
        if url.endswith("/responses"):
            given = body.get("input", "")
            d = _digest("response", given)
            text = LABELS[d[0] % len(LABELS)]
            return 200, response_reply(d.hex()[:24], body, text, len(orjson.dumps(given)))
        if url.endswith("/moderations"):
            given = body.get("input", "")
            d = _digest("moderation", given)
            return 200, moderation_reply(d.hex()[:24], body, d[1], len(orjson.dumps(given)))
        return 404, error_body(f"Unknown endpoint {url}", "invalid_request_error", "unknown_url")

    def _chat(self, body: dict) -> dict:
        messages = body.get("messages", [])
        raw = orjson.dumps(messages, option=orjson.OPT_SORT_KEYS)
        seed = hashlib.sha256(raw).digest()
        tool = _chosen_tool(body, seed)
        if tool is not None:
            name = str(tool.get("name", ""))
            arguments = generate_cached(tool.get("parameters") or {"type": "object"}, seed)
            return tool_call_reply(seed.hex()[:24], body, name, orjson.dumps(arguments).decode(),
                                   len(raw))  # fmt: skip
        fmt = body.get("response_format") or {}
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if kind == "json_schema":
            schema = (fmt.get("json_schema") or {}).get("schema") or {}
            content = orjson.dumps(generate_cached(schema, seed)).decode()
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
        prompt = sum(tokens(len(orjson.dumps(item))) for item in items)
        return {
            "object": "list",
            "data": data,
            "model": body.get("model", "mock"),
            "usage": {"prompt_tokens": prompt, "total_tokens": prompt},
        }


def _chosen_tool(body: dict, seed: bytes) -> dict | None:
    """The function a model would call: the one ``tool_choice`` names, else (unless "none")
    one of the offered functions chosen by the prompt's hash."""
    functions = [
        t["function"] for t in body.get("tools") or []
        if isinstance(t, dict) and isinstance(t.get("function"), dict)
    ]  # fmt: skip
    choice = body.get("tool_choice", "auto")
    if not functions or choice == "none":
        return None
    if isinstance(choice, dict):
        wanted = (choice.get("function") or {}).get("name")
        return next((f for f in functions if f.get("name") == wanted), None)
    return functions[seed[1] % len(functions)]


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
