"""OpenAI response shapes the local backends answer with (chat, completion, error)."""

from __future__ import annotations

import math


def tokens(nbytes: int) -> int:
    return max(1, math.ceil(nbytes / 4))


def error_body(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict:
    """The OpenAI error envelope used inside output/error lines."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def usage(prompt: int, completion: int) -> dict:
    """The ``usage`` object of a reply."""
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _max_tokens(body: dict) -> int | None:
    for key in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _truncate(text: str, body: dict) -> tuple[str, int, str]:
    """Cut ``text`` to the request's token budget; returns (text, completion_tokens, finish)."""
    used = tokens(len(text.encode()))
    limit = _max_tokens(body)
    if limit is not None and used > limit:
        return text[: limit * 4], limit, "length"
    return text, used, "stop"


def chat_reply(rid: str, body: dict, content: str, prompt_bytes: int) -> dict:
    """An OpenAI ``chat.completion`` object answering ``body`` with ``content``."""
    text, completion, finish = _truncate(content, body)
    prompt = tokens(prompt_bytes)
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
        "usage": usage(prompt, completion),
        "system_fingerprint": "fp_local",
    }


def tool_call_reply(rid: str, body: dict, name: str, arguments: str, prompt_bytes: int) -> dict:
    """A ``chat.completion`` whose answer is one call of the function ``name``."""
    reply = chat_reply(rid, body, "", prompt_bytes)
    choice = reply["choices"][0]
    choice["message"] = {
        "role": "assistant",
        "content": None,
        "refusal": None,
        "tool_calls": [
            {"id": f"call_{rid[:16]}", "type": "function",
             "function": {"name": name, "arguments": arguments}}
        ],
    }  # fmt: skip
    choice["finish_reason"] = "tool_calls"
    reply["usage"] = usage(tokens(prompt_bytes), tokens(len(arguments.encode()) + len(name)))
    return reply


def completion_reply(rid: str, body: dict, text: str, prompt_bytes: int) -> dict:
    """An OpenAI ``text_completion`` object."""
    text, completion, finish = _truncate(text, body)
    prompt = tokens(prompt_bytes)
    return {
        "id": f"cmpl-{rid}",
        "object": "text_completion",
        "created": 0,
        "model": body.get("model", "mock"),
        "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}],
        "usage": usage(prompt, completion),
    }


def response_reply(rid: str, body: dict, text: str, prompt_bytes: int) -> dict:
    """An OpenAI Responses API ``response`` object with one output message."""
    text, completion, finish = _truncate(text, body)
    prompt = tokens(prompt_bytes)
    return {
        "id": f"resp_{rid}",
        "object": "response",
        "created_at": 0,
        "status": "completed" if finish == "stop" else "incomplete",
        "incomplete_details": None if finish == "stop" else {"reason": "max_output_tokens"},
        "model": body.get("model", "mock"),
        "output": [
            {
                "type": "message",
                "id": f"msg_{rid}",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        "usage": {
            "input_tokens": prompt,
            "output_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


MODERATION_CATEGORIES = ("harassment", "hate", "self-harm", "sexual", "violence")


def moderation_reply(rid: str, body: dict, seed: int, prompt_bytes: int) -> dict:
    """An OpenAI ``moderation`` object; ``seed`` picks which categories are flagged."""
    flags = {c: bool(seed >> i & 1) and seed % 4 == 0 for i, c in enumerate(MODERATION_CATEGORIES)}
    scores = {c: (0.9 if flags[c] else 0.01) for c in MODERATION_CATEGORIES}
    return {
        "id": f"modr-{rid}",
        "model": body.get("model", "mock"),
        "results": [
            {"flagged": any(flags.values()), "categories": flags, "category_scores": scores}
        ],
    }
