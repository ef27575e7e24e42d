"""Checks an input JSONL file line by line and finds where each request lives in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import orjson

from dw_notebook import wire

_READ_BUFFER = 1 << 20  # bytes per read of the input file (fewer system calls than 8 KiB)
SERVED = (wire.CHAT, wire.EMBEDDINGS, wire.COMPLETIONS, wire.RESPONSES, wire.MODERATIONS)


@dataclass
class Parsed:
    """Result of reading an input file: where each request is, and every problem found."""

    requests: list[tuple[int, str, int, int]] = field(default_factory=list)  # line, id, off, len
    errors: list[dict] = field(default_factory=list)
    model: str | None = None
    urls: set[str] = field(default_factory=set)


def _err(code: str, message: str, line: int | None, param: str | None = None) -> dict:
    return {"code": code, "message": message, "param": param, "line": line}


def _printable(text: str) -> bool:
    return text.isascii() and text.isprintable()  # for ASCII: " " to "~"


def check_line(obj: object, line: int, endpoint: str | None) -> dict | None:
    """The first problem with one parsed input line, or None."""
    if not isinstance(obj, dict):
        return _err("invalid_json_line", "Line is not a JSON object.", line)
    for key in ("custom_id", "method", "url", "body"):
        if key not in obj:
            return _err(
                "missing_required_parameter", f"Missing required parameter: '{key}'.", line, key
            )
    cid = obj["custom_id"]
    if not isinstance(cid, str) or not cid or len(cid) > wire.MAX_CUSTOM_ID_LENGTH:
        return _err(
            "invalid_custom_id",
            f"custom_id must be a string of 1 to {wire.MAX_CUSTOM_ID_LENGTH} characters.",
            line,
            "custom_id",
        )
    if not _printable(cid):
        return _err("invalid_custom_id", "custom_id must be printable ASCII.", line, "custom_id")
    if obj["method"] != "POST":
        return _err("invalid_method", "Only the POST method is supported.", line, "method")
    url = obj["url"]
    if url not in SERVED:
        return _err("invalid_url", f"URL {url!r} is not a supported endpoint.", line, "url")
    if endpoint is not None and url != endpoint:
        return _err(
            "invalid_url",
            f"URL {url!r} does not match the batch endpoint {endpoint!r}.",
            line,
            "url",
        )
    body = obj["body"]
    if not isinstance(body, dict):
        return _err("invalid_json_line", "body must be a JSON object.", line, "body")
    if body.get("stream") is True:
        return _err(
            "streaming_unsupported", "Streaming is not supported in batches.", line, "body.stream"
        )
    if not isinstance(body.get("model"), str) or not body["model"]:
        return _err(
            "missing_required_parameter",
            "Missing required parameter: 'body.model'.",
            line,
            "body.model",
        )
    return None


def parse_file(
    path: Path,
    endpoint: str | None = None,
    unique_ids: bool = True,
    max_requests: int = wire.MAX_REQUESTS_PER_FILE,
) -> Parsed:
    """Read ``path`` and collect requests and every bad line (1-based line numbers).

    ``endpoint`` None accepts any served URL (checked later, at batch creation).
    """
    out = Parsed()
    seen: set[str] = set()
    offset = 0
    line_no = 0
    with open(path, "rb", buffering=_READ_BUFFER) as fh:
        for raw in fh:
            line_no += 1
            start, offset = offset, offset + len(raw)
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                out.errors.append(_err("invalid_json_line", "Line is not valid JSON.", line_no))
                continue
            problem = check_line(obj, line_no, endpoint)
            if problem is None and unique_ids and obj["custom_id"] in seen:
                problem = _err(
                    "duplicate_custom_id",
                    f"custom_id {obj['custom_id']!r} is used more than once.",
                    line_no,
                    "custom_id",
                )
            if problem is None:
                model = obj["body"]["model"]
                if out.model is None:
                    out.model = model
                elif model != out.model:
                    problem = _err(
                        "mismatched_model",
                        f"Model {model!r} differs from {out.model!r}; one model per file.",
                        line_no,
                        "body.model",
                    )
            if problem is not None:
                out.errors.append(problem)
                continue
            seen.add(obj["custom_id"])
            out.urls.add(obj["url"])
            out.requests.append((line_no, obj["custom_id"], start, len(raw)))
    if not out.requests and not out.errors:
        out.errors.append(_err("empty_file", "The input file has no requests.", None))
    if len(out.requests) > max_requests:
        out.errors.append(
            _err(
                "too_many_requests",
                f"The file has {len(out.requests)} requests; at most {max_requests}.",
                None,
            )
        )
    return out
