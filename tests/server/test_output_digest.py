"""The bytes of output and error files stay the same: a mixed batch's lines are digested.

Successes of several kinds (labels, JSON schemas, tools), failures by ``failure_rate``,
Doubleword retries and the retry endpoint, with and without shuffle. Line ids come from the
batch id and ``created`` from the clock, so those are checked against their formulas here and
then blanked before digesting; every other byte must match the digest the code made before.
"""

from __future__ import annotations

import hashlib
import re

import pytest
from server_support import chat_line

SCHEMA = {
    "type": "object",
    "properties": {
        "label": {"enum": ["positive", "negative", "neutral"]},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "stars": {"type": "integer", "minimum": 1, "maximum": 5},
        "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}, "uniqueItems": True},
        "when": {"type": "string", "format": "date-time"},
        "who": {"type": ["string", "null"], "format": "email"},
        "id": {"type": "string", "format": "uuid"},
        "note": {"anyOf": [{"type": "string", "maxLength": 7}, {"type": "null"}]},
        "ok": {"type": "boolean"},
        "inner": {"type": "object", "properties": {"n": {"type": "integer"}}},
    },
    "$defs": {"tag": {"enum": ["a", "b", "c", "d"]}},
}
TOOL = {
    "type": "function",
    "function": {
        "name": "rate",
        "parameters": {"type": "object", "properties": {"stars": {"type": "integer"}}},
    },
}


def _lines(n: int) -> list[dict]:
    """Chat lines of four kinds, some with non-ASCII text."""
    out = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            out.append(chat_line(i))
        elif kind == 1:
            fmt = {"type": "json_schema", "json_schema": {"name": "r", "schema": SCHEMA}}
            out.append(chat_line(i, f"Avis {i} : très bien ✓", response_format=fmt))
        elif kind == 2:
            out.append(chat_line(i, response_format={"type": "json_object"}))
        else:
            out.append(chat_line(i, tools=[TOOL]))
    return out


def _line_id(dialect: str, batch_id: str, idx: int) -> str:
    d = hashlib.sha256(f"{batch_id}:{idx}".encode()).hexdigest()
    if dialect == "doubleword":
        return f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:32]}"
    return "batch_req_" + d[:32]


def _normalised(api, dialect: str, batch: dict, key: str, ordered: bool) -> bytes:
    """The file's bytes with its batch-derived ids and clock stamps blanked."""
    fid = batch.get(key)
    if not fid:
        return b""
    raw = api.http.get(f"/files/{fid}/content").content
    out = []
    for line in raw.splitlines(True):
        cid = re.search(rb'"custom_id":"row-(\d+)"', line)
        assert cid, line
        line_id = _line_id(dialect, batch["id"], int(cid[1]))
        req_id = "req_" + hashlib.sha256(line_id.encode()).hexdigest()[:32]
        assert line.startswith(b'{"id":"' + line_id.encode() + b'"'), line
        if b'"response":{' in line:
            assert f'"request_id":"{req_id}"'.encode() in line, line
        line = line.replace(line_id.encode(), b"ID").replace(req_id.encode(), b"REQ")
        out.append(re.sub(rb'"created":\d+', b'"created":0', line))
    return b"".join(out if ordered else sorted(out))


def _digest(api, dialect: str, batch: dict, ordered: bool) -> str:
    h = hashlib.sha256()
    for key in ("output_file_id", "error_file_id"):
        h.update(_normalised(api, dialect, batch, key, ordered) + b"\0")
    counts = batch["request_counts"]
    h.update(f"{counts['total']} {counts['completed']} {counts['failed']}".encode())
    return h.hexdigest()[:16]


# made by the code before the runner was sped up
EXPECTED = {
    ("openai", False): ["81e20f967de917eb"],
    ("openai", True): ["9a3a8cb8b1e860a4"],
    ("doubleword", False): ["6b951abfda3eeb7b", "88d5f9aafe35df3f"],
    ("doubleword", True): ["e08961814912e99e", "a0b325ed42e721e1"],
}


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("dialect", ["openai", "doubleword"])
def test_mixed_batch_output_bytes_are_unchanged(make_api, dialect, shuffle):
    api = make_api(
        dialect=dialect,
        shuffle=shuffle,
        backend_options={"failure_rate": 0.3},
        retry_backoff=0.0,
    )
    batch = api.wait(api.submit(_lines(400))["id"])
    digests = [_digest(api, dialect, batch, ordered=not shuffle)]
    if dialect == "doubleword":
        assert api.http.post(f"/batches/{batch['id']}/retry").status_code == 200
        batch = api.wait(batch["id"])
        digests.append(_digest(api, dialect, batch, ordered=not shuffle))
    assert digests == EXPECTED[dialect, shuffle]
