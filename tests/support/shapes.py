"""Batch objects and result lines in the shapes real implementations write, as proxy rewrites.

Each ``Shape`` turns the local server's answers into one implementation's way of writing them:
``batch`` changes a batch object, ``line`` a result line (request lines of input files pass
unchanged). ``install(proxy, shape)`` puts both on a ``FaultProxy``, so the whole flow
(submit, poll, join) runs against that shape over real HTTP.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import orjson

from .proxy import FaultProxy, Reply

BATCH_FIELDS = (
    "id", "object", "endpoint", "errors", "input_file_id", "completion_window", "status",
    "output_file_id", "error_file_id", "created_at", "in_progress_at", "expires_at",
    "finalizing_at", "completed_at", "failed_at", "expired_at", "cancelling_at", "cancelled_at",
    "request_counts", "metadata",
)  # fmt: skip


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Shape:
    name: str
    batch: Callable[[dict], dict] = _same
    line: Callable[[dict], dict] = _same
    failed_validation: bool = False  # the batch is reported failed with errors.data


# -- batch objects ----------------------------------------------------------------------------


def openai_batch(b: dict) -> dict:
    """OpenAI's documented object: every field present, explicit nulls."""
    return {name: b.get(name) for name in BATCH_FIELDS} | {"object": "batch"}


def doubleword_batch(b: dict) -> dict:
    """Doubleword omits null fields."""
    return {k: v for k, v in b.items() if v is not None}


def null_counts_batch(b: dict) -> dict:
    """``request_counts: null``, null timestamps, ``errors.object`` null."""
    b = openai_batch(b)
    b.update(request_counts=None, expires_at=None, in_progress_at=None, finalizing_at=None)
    b["errors"] = {"object": None, "data": []}
    return b


def failed_validation_batch(b: dict) -> dict:
    """A batch that failed validation: reasons only in ``errors.data``, no files, no counts."""
    b = openai_batch(b)
    b.update(status="failed", output_file_id=None, error_file_id=None, request_counts=None)
    b["errors"] = {
        "object": "list",
        "data": [
            {"code": "invalid_json_line", "message": "Line 2 is not valid JSON.",
             "param": None, "line": 2},
            {"code": "token_limit_exceeded", "message": "Enqueued token limit reached.",
             "param": None, "line": None},
        ],
    }  # fmt: skip
    return b


# -- result lines -----------------------------------------------------------------------------


def _failed(line: dict) -> bool:
    resp = line.get("response")
    return bool(line.get("error")) or (isinstance(resp, dict) and resp["status_code"] >= 400)


def openai_line(line: dict) -> dict:
    line = copy.deepcopy(line)
    line.setdefault("error", None)
    if isinstance(line.get("response"), dict):
        line["response"].setdefault("request_id", "req_1")
    return line


def doubleword_line(line: dict) -> dict:
    return {k: v for k, v in line.items() if v is not None}


def string_body_line(line: dict) -> dict:
    """A widely deployed server: bodies as JSON strings, no ``error`` key on success, failures
    as ``error`` objects with a type and no ``response`` and no code."""
    resp = line.get("response")
    if _failed(line):
        detail = orjson.dumps(resp["body"]).decode() if isinstance(resp, dict) else "failed"
        status = resp["status_code"] if isinstance(resp, dict) else 500
        return {
            "custom_id": line["custom_id"],
            "error": {"type": "server_error", "message": f"Error code: {status} - {detail}"},
        }
    out = {"id": line.get("id"), "custom_id": line["custom_id"], "response": dict(resp)}
    out["response"]["body"] = orjson.dumps(resp["body"]).decode()
    return out


def vllm_line(line: dict) -> dict:
    """vLLM ``run-batch``: the same model with its own ids and extra body fields; ``error`` only
    for failures that are not HTTP answers."""
    line = copy.deepcopy(line)
    resp = line.get("response")
    line["id"] = f"vllm-{line['custom_id']}"
    if isinstance(resp, dict):
        resp["request_id"] = f"vllm-batch-{line['custom_id']}"
        body = resp.get("body")
        if isinstance(body, dict) and "choices" in body:
            body["prompt_logprobs"] = None
            body.setdefault("usage", {})["prompt_tokens_details"] = None
    line["error"] = None if isinstance(resp, dict) else line.get("error")
    return line


def codeless_error_line(line: dict) -> dict:
    """Failures as ``{"custom_id", "response": null, "error": {"message"}}``: no code."""
    if not _failed(line):
        return line
    resp = line.get("response")
    message = "request failed"
    if isinstance(resp, dict) and isinstance(resp.get("body"), dict):
        message = (resp["body"].get("error") or {}).get("message") or message
    return {"id": line.get("id"), "custom_id": line["custom_id"], "response": None,
            "error": {"message": message}}  # fmt: skip


SHAPES = [
    Shape("openai-documented", openai_batch, openai_line),
    Shape("doubleword", doubleword_batch, doubleword_line),
    Shape("string-bodies", openai_batch, string_body_line),
    Shape("null-counts-and-timestamps", null_counts_batch, openai_line),
    Shape("vllm-run-batch", openai_batch, vllm_line),
    Shape("errors-without-code", doubleword_batch, codeless_error_line),
    Shape("failed-validation", failed_validation_batch, failed_validation=True),
]


# -- on the proxy -------------------------------------------------------------------------------


def install(proxy: FaultProxy, shape: Shape) -> None:
    """Rewrite every batch object and result line the proxy passes into ``shape``."""

    def batch(reply: Reply, path: str) -> Reply:
        if reply.status >= 400:
            return reply
        return Reply(reply.status, reply.headers, orjson.dumps(shape.batch(reply.json())))

    def content(reply: Reply, path: str) -> Reply:
        if reply.status >= 400:
            return reply
        out = []
        for raw in reply.body.splitlines():
            obj = orjson.loads(raw) if raw.strip() else None
            if not isinstance(obj, dict) or "method" in obj:  # a request line: unchanged
                out.append(raw)
            else:
                out.append(orjson.dumps(shape.line(obj)))
        body = b"".join(line + b"\n" for line in out)
        return Reply(reply.status, reply.headers, body)

    proxy.rewrite("GET", r"^/batches/[^/]+$", batch)
    proxy.rewrite("POST", r"^/batches$", batch)
    proxy.rewrite("GET", r"^/files/[^/]+/content$", content)


def iso_times_batch(b: dict) -> dict:
    """Timestamps written as ISO 8601 text, counts as strings."""
    from datetime import datetime

    b = openai_batch(b)
    for name in BATCH_FIELDS:
        if name.endswith("_at") and isinstance(b.get(name), int):
            b[name] = datetime.fromtimestamp(b[name], UTC).isoformat()
    if isinstance(b.get("request_counts"), dict):
        b["request_counts"] = {k: str(v) for k, v in b["request_counts"].items()}
    return b


SHAPES.append(Shape("iso-timestamps-and-string-counts", iso_times_batch, openai_line))
