"""What differs between the OpenAI and Doubleword dialects: ids, status codes, nulls, errors."""

from __future__ import annotations

import hashlib
import math
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.responses import Response

from dw_notebook.server import dw_objects

JSON = "application/json"


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class Dialect:
    """Behaviour switches of one dialect; see API_NOTES for the facts behind each."""

    name: str
    create_status: int
    omit_nulls: bool
    validate_at_upload: bool
    unique_custom_ids: bool
    has_expired_status: bool
    retries_failures: bool
    files_from_creation: bool
    all_failed_status: str

    # ids
    def file_id(self) -> str:
        return str(uuid.uuid4()) if self.name == "doubleword" else "file-" + secrets.token_hex(12)

    def batch_id(self) -> str:
        return str(uuid.uuid4()) if self.name == "doubleword" else "batch_" + secrets.token_hex(16)

    def request_id(self, batch_id: str, idx: int) -> str:
        digest = hashlib.sha256(f"{batch_id}:{idx}".encode()).hexdigest()
        if self.name == "doubleword":
            d = digest
            return f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:32]}"
        return "batch_req_" + digest[:32]

    def not_found(self, kind: str, ident: str) -> Response:
        """404 for an unknown id (Doubleword: also any storage error on a read)."""
        if self.name == "openai":
            return self.error(404, f"No such {kind} object: {ident}", None, "id")
        return self.error(404, f"{kind} with ID {ident} not found")

    # objects
    def clean(self, obj: dict) -> dict:
        """Drop null fields in the Doubleword dialect; OpenAI keeps explicit nulls."""
        if not self.omit_nulls:
            return obj
        return {k: v for k, v in obj.items() if v is not None}

    def file_object(self, row: dict) -> dict:
        obj = {
            "id": row["id"],
            "object": "file",
            "bytes": row["bytes"],
            "created_at": _int(row["created_at"]),
            "filename": row["filename"],
            "purpose": row["purpose"],
            "expires_at": _int(row["expires_at"]),
            "status": row["status"],
            "status_details": None,
        }
        if self.name == "doubleword":  # FileResponse: no status (dwctl/src/api/models/files.rs)
            del obj["status"]
        return self.clean(obj)

    def batch_object(self, row: dict, now: float) -> dict:
        """The batch object; Doubleword's is derived as its control layer does (dw_objects)."""
        if self.name == "doubleword":
            return dw_objects.batch_object(row, now)
        errors = orjson.loads(row["errors"]) if row["errors"] else None
        usage = None
        if row["input_tokens"] or row["output_tokens"]:
            usage = {
                "input_tokens": row["input_tokens"],
                "output_tokens": row["output_tokens"],
                "total_tokens": row["input_tokens"] + row["output_tokens"],
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0},
            }
        obj = {
            "id": row["id"],
            "object": "batch",
            "endpoint": row["endpoint"],
            "model": row["model"],
            "errors": {"object": "list", "data": errors} if errors else None,
            "input_file_id": row["input_file_id"],
            "completion_window": row["completion_window"],
            "status": row["status"],
            "output_file_id": row["output_file_id"],
            "error_file_id": row["error_file_id"],
            "created_at": _int(row["created_at"]),
            "in_progress_at": _int(row["in_progress_at"]),
            "expires_at": _int(row["expires_at"]),
            "finalizing_at": _int(row["finalizing_at"]),
            "completed_at": _int(row["completed_at"]),
            "failed_at": _int(row["failed_at"]),
            "expired_at": _int(row["expired_at"]),
            "cancelling_at": _int(row["cancelling_at"]),
            "cancelled_at": _int(row["cancelled_at"]),
            "request_counts": {
                "total": row["total"],
                "completed": row["completed"],
                "failed": row["failed"],
            },
            "metadata": orjson.loads(row["metadata"]) if row["metadata"] else None,
            "usage": usage,
        }
        return self.clean(obj)

    # responses
    def json(self, obj: Any, status: int = 200, headers: dict | None = None) -> Response:
        return Response(orjson.dumps(obj), status, headers=headers, media_type=JSON)

    def error(
        self,
        status: int,
        message: str,
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> Response:
        """An HTTP error in this dialect's shape."""
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = str(max(0, math.ceil(retry_after)))
            if self.name == "openai":
                headers["retry-after-ms"] = str(max(0, round(retry_after * 1000)))
        if self.name == "openai":
            kind = {401: "invalid_request_error", 429: "rate_limit_exceeded"}.get(
                status, "server_error" if status >= 500 else "invalid_request_error"
            )
            body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
            return Response(orjson.dumps(body), status, headers=headers, media_type=JSON)
        if status in (429, 503):
            # control layer (dwctl/src/errors.rs): Retry-After 60 (429) or 30 (503); the body
            # always says 30. A fault may set its own Retry-After so tests need not wait.
            body = {
                "error": "too_many_requests" if status == 429 else "service_unavailable",
                "message": message,
                "retry_after_seconds": 30,
            }
            headers.setdefault("Retry-After", "60" if status == 429 else "30")
            return Response(orjson.dumps(body), status, headers=headers, media_type=JSON)
        if status == 409:
            return Response(orjson.dumps({"message": message}), status, media_type=JSON)
        return Response(message, status, headers=headers, media_type="text/plain")


OPENAI = Dialect(
    name="openai",
    create_status=200,
    omit_nulls=False,
    validate_at_upload=False,
    unique_custom_ids=True,
    has_expired_status=True,
    retries_failures=False,
    files_from_creation=False,
    all_failed_status="completed",
)
DOUBLEWORD = Dialect(
    name="doubleword",
    create_status=201,
    omit_nulls=True,
    validate_at_upload=True,
    unique_custom_ids=False,
    has_expired_status=False,
    retries_failures=True,
    files_from_creation=True,
    all_failed_status="failed",
)
DIALECTS = {"openai": OPENAI, "doubleword": DOUBLEWORD}


def get_dialect(name: str) -> Dialect:
    try:
        return DIALECTS[name]
    except KeyError:
        raise ValueError(f"unknown dialect {name!r}; choose 'openai' or 'doubleword'") from None
