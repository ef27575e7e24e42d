"""A finished answer replayed as a server-sent event stream (``stream: true``).

The backends answer whole, so a streamed request gets the finished answer cut into the
events a streaming client expects, as Doubleword's control layer does for flex requests:
chat and completions as ``chat.completion.chunk``/``text_completion`` frames ending in
``data: [DONE]``, the Responses API as named ``response.*`` events ending in
``response.completed`` (no ``[DONE]``).
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from starlette.responses import StreamingResponse

DONE = b"data: [DONE]\n\n"


def _frame(data: dict, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + orjson.dumps(data) + b"\n\n"


def chat_chunks(reply: dict, include_usage: bool) -> list[dict]:
    """A ``chat.completion`` as chunks: per choice a role chunk, one content chunk and a
    finish chunk; then a usage chunk (no choices) when asked for."""
    base = {k: reply.get(k) for k in ("id", "created", "model", "system_fingerprint")}
    base["object"] = "chat.completion.chunk"

    def chunk(index: int, delta: dict, finish: str | None) -> dict:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**base, "choices": [choice]}

    out = []
    for choice in reply.get("choices") or []:
        index, message = choice.get("index", 0), choice.get("message") or {}
        out.append(chunk(index, {"role": message.get("role", "assistant"), "content": ""}, None))
        delta = {k: message[k] for k in ("content", "tool_calls") if message.get(k) is not None}
        if delta:
            out.append(chunk(index, delta, None))
        out.append(chunk(index, {}, choice.get("finish_reason")))
    if include_usage and reply.get("usage") is not None:
        out.append({**base, "choices": [], "usage": reply["usage"]})
    return out


def completion_chunks(reply: dict, include_usage: bool) -> list[dict]:
    """A ``text_completion`` as one text chunk per choice, then an optional usage chunk."""
    out = [{**reply, "choices": [choice], "usage": None} for choice in reply.get("choices") or []]
    if include_usage and reply.get("usage") is not None:
        out.append({**reply, "choices": [], "usage": reply["usage"]})
    return out


def response_events(response: dict) -> list[tuple[str, dict]]:
    """A Response object as ``response.*`` events, each with ``type`` and ``sequence_number``."""
    stub = {k: response.get(k) for k in ("id", "object", "created_at", "model")}
    stub.update(status="in_progress", output=[])
    events: list[tuple[str, dict]] = [("response.created", {"response": stub})]
    for index, item in enumerate(response.get("output") or []):
        if item.get("type") != "message":
            continue  # tool calls travel in response.completed only
        text = "".join(p.get("text", "") for p in item.get("content") or []
                       if p.get("type") == "output_text")  # fmt: skip
        ref = {"item_id": item.get("id"), "output_index": index, "content_index": 0}
        added = {"type": "message", "id": item.get("id"), "status": "in_progress",
                 "role": "assistant", "content": []}  # fmt: skip
        events += [
            ("response.output_item.added", {"output_index": index, "item": added}),
            ("response.output_text.delta", {**ref, "delta": text}),
            ("response.output_text.done", {**ref, "text": text}),
            ("response.output_item.done", {"output_index": index, "item": item}),
        ]
    events.append(("response.completed", {"response": response}))
    return [(name, {**data, "type": name, "sequence_number": n})
            for n, (name, data) in enumerate(events)]  # fmt: skip


def stream(frames: Iterable[bytes]) -> StreamingResponse:
    return StreamingResponse(iter(list(frames)), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})  # fmt: skip


def chunk_stream(chunks: list[dict]) -> StreamingResponse:
    return stream([*(_frame(c) for c in chunks), DONE])


def event_stream(events: list[tuple[str, dict]]) -> StreamingResponse:
    return stream(_frame(data, name) for name, data in events)
