"""Result lines in the documented batch output/error format, for join tests."""

from __future__ import annotations

import orjson


def ok(
    cid: str,
    content: str | None = "",
    *,
    finish: str = "stop",
    prompt_tokens: int = 10,
    completion_tokens: int = 3,
    tool_calls: list | None = None,
    n: int = 0,
) -> dict:
    message: dict = {"role": "assistant", "content": content}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    return {
        "id": f"batch_req_{n}",
        "custom_id": cid,
        "response": {
            "status_code": 200,
            "request_id": f"req_{n}",
            "body": {
                "id": f"chatcmpl-{n}",
                "object": "chat.completion",
                "model": "m",
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
        },
        "error": None,
    }


def completion(cid: str, text: str) -> dict:
    return {
        "id": "r",
        "custom_id": cid,
        "response": {
            "status_code": 200,
            "body": {
                "choices": [{"index": 0, "text": text, "finish_reason": "length"}],
                "usage": {"prompt_tokens": 4, "completion_tokens": 16},
            },
        },
        "error": None,
    }


def embedding(cid: str, vector: list[float]) -> dict:
    return {
        "id": "r",
        "custom_id": cid,
        "response": {
            "status_code": 200,
            "body": {
                "object": "list",
                "data": [{"object": "embedding", "index": 0, "embedding": vector}],
                "usage": {"prompt_tokens": 5, "total_tokens": 5},
            },
        },
        "error": None,
    }


def http_error(
    cid: str, status: int = 500, code: str | None = "server_error", message: str = "boom"
) -> dict:
    return {
        "id": "r",
        "custom_id": cid,
        "response": {
            "status_code": status,
            "body": {
                "error": {"message": message, "type": "server_error", "param": None, "code": code}
            },
        },
        "error": None,
    }


def failure(cid: str, code: str = "batch_expired", message: str = "no") -> dict:
    return {
        "id": "r",
        "custom_id": cid,
        "response": None,
        "error": {"code": code, "message": message},
    }


def jsonl(*objs: dict) -> bytes:
    return b"".join(orjson.dumps(o) + b"\n" for o in objs)
