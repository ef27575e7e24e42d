"""Doubleword checks an input file line by line at upload and stops at the first bad line
(``dwctl/src/api/handlers/files.rs``: ``create_file_stream``, ``OpenAIBatchRequest::to_internal``,
``FileUploadError::into_http_error``); messages and status codes follow it."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from dw_notebook import wire

#: ``batches.allowed_url_paths`` (the control layer also allows ``/v1/messages``, which the
#: local backends do not answer); ``/v1/moderations`` is not allowed.
ALLOWED_URLS = (wire.CHAT, wire.COMPLETIONS, wire.EMBEDDINGS, wire.RESPONSES)
MAX_BODY_BYTES = 10 * 1024 * 1024  # limits.requests.max_body_size
MAX_FILE_BYTES = 100 * 1024 * 1024  # limits.files.max_file_size; no cap on requests per file
_READ_BUFFER = 1 << 20


class LineError(Exception):
    """The first bad line: answered with ``status`` and a plain-text ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Scanned:
    """Where each request is (line, custom_id, offset, length), and the urls used."""

    requests: list[tuple[int, str, int, int]] = field(default_factory=list)
    urls: set[str] = field(default_factory=set)


def _header_safe(text: str) -> bool:
    """What ``HeaderValue::from_str`` accepts: visible ASCII, space and tab."""
    return all(c == "\t" or " " <= c <= "~" for c in text)


def check_line(obj: object, line: int, models: Collection[str] | None) -> None:
    """Raise LineError for the first problem of one parsed line (``models``: those the key
    may use; None skips that check)."""
    if not isinstance(obj, dict):
        raise LineError(400, f"Invalid JSON on line {line}: expected a JSON object")
    for key in ("custom_id", "method", "url", "body"):
        if key not in obj:
            raise LineError(400, f"Invalid JSON on line {line}: missing field `{key}`")
    cid, method, url, body = obj["custom_id"], obj["method"], obj["url"], obj["body"]
    if not isinstance(cid, str) or not isinstance(method, str) or not isinstance(url, str):
        raise LineError(400, f"Invalid JSON on line {line}: custom_id, method and url are strings")
    if len(cid.encode()) > wire.MAX_CUSTOM_ID_LENGTH:
        raise LineError(
            400,
            f"Line {line}: custom_id exceeds maximum length of {wire.MAX_CUSTOM_ID_LENGTH} "
            f"characters (got {len(cid.encode())})",
        )
    if not _header_safe(cid):
        raise LineError(
            400,
            f"Line {line}: custom_id contains invalid characters: must be valid ASCII without "
            "control characters",
        )
    if method.upper() != "POST":
        raise LineError(
            400,
            f"Line {line}: Unsupported HTTP method '{method}'. Only POST is currently supported.",
        )
    if url not in ALLOWED_URLS:
        raise LineError(
            400,
            f"Line {line}: Unsupported URL path '{url}'. Allowed paths are: "
            + ", ".join(ALLOWED_URLS),
        )
    model = body.get("model") if isinstance(body, dict) else None
    if not isinstance(model, str):
        raise LineError(400, f"Line {line}: Missing 'model' field in request body")
    if models is not None and model not in models:
        raise LineError(
            403, f"Line {line}: Model '{model}' has not been configured or is not available to user"
        )
    size = len(orjson.dumps({k: v for k, v in body.items() if k != "priority"}))
    if size > MAX_BODY_BYTES:
        raise LineError(
            400,
            f"Line {line}: Request body is {size} bytes, which exceeds the maximum allowed size "
            f"of {MAX_BODY_BYTES} bytes",
        )


def scan(path: Path, models: Collection[str] | None = None) -> Scanned:
    """Check ``path`` (raises LineError at the first bad line) and find each request.

    Lines are numbered as requests (blank lines are skipped and not counted), as there."""
    out = Scanned()
    offset = 0
    with open(path, "rb", buffering=_READ_BUFFER) as fh:
        for raw in fh:
            start, offset = offset, offset + len(raw)
            if not raw.strip():
                continue
            line = len(out.requests) + 1
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise LineError(400, f"Invalid JSON on line {line}: {exc}") from None
            check_line(obj, line, models)
            out.urls.add(obj["url"])
            out.requests.append((line, obj["custom_id"], start, len(raw)))
    if not out.requests:
        raise LineError(400, "File contains no valid request templates")
    return out
