"""Output and error file lines, in the documented shapes."""

from __future__ import annotations

import hashlib

import orjson

from dw_notebook import wire

NOT_RUN_MESSAGES = {
    wire.EXPIRED_CODE: "This request could not be executed before the completion window expired.",
    wire.CANCELLED_CODE: "This request was not executed because the batch was cancelled.",
}


def response_line(line_id: str, custom_id: str, status: int, body: dict) -> bytes:
    """A request that got an HTTP answer (success in the output file, >= 400 in the error file)."""
    return (
        orjson.dumps(
            {
                "id": line_id,
                "custom_id": custom_id,
                "response": {
                    "status_code": status,
                    "request_id": request_id(line_id),
                    "body": body,
                },
                "error": None,
            }
        )
        + b"\n"
    )


def request_id(line_id: str) -> str:
    return "req_" + hashlib.sha256(line_id.encode()).hexdigest()[:32]


def error_line(line_id: str, custom_id: str, code: str, message: str | None = None) -> bytes:
    """A request that got no HTTP answer (expired, cancelled, backend crash)."""
    return (
        orjson.dumps(
            {
                "id": line_id,
                "custom_id": custom_id,
                "response": None,
                "error": {"code": code, "message": message or NOT_RUN_MESSAGES.get(code, code)},
            }
        )
        + b"\n"
    )


def line_id_of(line: bytes) -> str | None:
    try:
        return orjson.loads(line).get("id")
    except (orjson.JSONDecodeError, AttributeError):
        return None
