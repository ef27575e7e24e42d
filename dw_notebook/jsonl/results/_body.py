"""The answer in one response body, for every endpoint Doubleword batches.

``answer_fields(body)`` gives the result columns of one body (``content``, ``finish_reason``,
tokens, tool call, embedding), whatever the endpoint: chat completions (``choices[].message``),
completions (``choices[].text``), embeddings (``data[].embedding``), responses (``output[]``
items of type ``message``, ``usage.input_tokens``) and moderations (``results[0]`` as JSON text
in ``content``). ``has_answer`` says whether any of them holds an answer: a 2xx without one is
never ``ok``.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
ANSWER_KEYS = ("content", "tool_name", "embedding")


def int_or_none(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and INT64_MIN <= value <= INT64_MAX:
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value) if INT64_MIN <= value <= INT64_MAX else None
    return None


def str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def has_answer(fields: dict[str, Any]) -> bool:
    """True when the fields hold an answer (text, a tool call or a vector)."""
    return any(fields.get(key) is not None for key in ANSWER_KEYS)


def answer_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The result columns found in one response body (missing ones left out)."""
    rec: dict[str, Any] = {}
    usage = body.get("usage")
    if isinstance(usage, dict):
        rec["prompt_tokens"] = int_or_none(usage.get("prompt_tokens", usage.get("input_tokens")))
        rec["completion_tokens"] = int_or_none(
            usage.get("completion_tokens", usage.get("output_tokens"))
        )
    choices = body.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        _choice(choices[0], rec)
    data = body.get("data")
    if isinstance(data, list) and data and isinstance(data[0], dict):
        emb = data[0].get("embedding")
        if isinstance(emb, list) and all(
            isinstance(x, int | float) and not isinstance(x, bool) for x in emb
        ):
            rec["embedding"] = [float(x) for x in emb]
    output = body.get("output")
    if isinstance(output, list) and rec.get("content") is None and rec.get("tool_name") is None:
        _response_output(body, output, rec)
    results = body.get("results")
    if isinstance(results, list) and results and isinstance(results[0], dict):
        rec["content"] = orjson.dumps(results[0]).decode()  # moderations: the verdict as JSON
    return rec


def _choice(choice: dict[str, Any], rec: dict[str, Any]) -> None:
    rec["finish_reason"] = str_or_none(choice.get("finish_reason"))
    message = choice.get("message")
    if isinstance(message, dict):
        rec["content"] = str_or_none(message.get("content"))
        calls = message.get("tool_calls")
        if isinstance(calls, list) and calls and isinstance(calls[0], dict):
            fn = calls[0].get("function") or {}
            if isinstance(fn, dict):
                rec["tool_name"] = str_or_none(fn.get("name"))
                args = fn.get("arguments")
                rec["tool_arguments"] = (
                    args if isinstance(args, str) or args is None else orjson.dumps(args).decode()
                )
    if rec.get("content") is None:
        rec["content"] = str_or_none(choice.get("text"))


def _response_output(body: dict[str, Any], output: list[Any], rec: dict[str, Any]) -> None:
    """A Responses API body: the text of its message items, or its first function call."""
    texts: list[str] = []
    for item in output:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "message" and isinstance(item.get("content"), list):
            texts += [
                part["text"]
                for part in item["content"]
                if isinstance(part, dict) and isinstance(part.get("text"), str)
            ]
        elif item.get("type") == "function_call" and rec.get("tool_name") is None:
            rec["tool_name"] = str_or_none(item.get("name"))
            rec["tool_arguments"] = str_or_none(item.get("arguments"))
    if texts:
        rec["content"] = "".join(texts)
    elif isinstance(body.get("output_text"), str):
        rec["content"] = body["output_text"]
    details = body.get("incomplete_details")
    if isinstance(details, dict) and details.get("reason") == "max_output_tokens":
        rec["finish_reason"] = "length"
    elif body.get("status") == "completed":
        rec["finish_reason"] = "tool_calls" if rec.get("tool_name") and not texts else "stop"
