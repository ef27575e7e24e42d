"""JSON fragments: request lines are assembled from pre-encoded pieces, never per-row dicts.

One line = ``head + id + middle + value + tail + "\\n"`` where head/middle/tail come from dumping a
skeleton request once, and the per-row id and value are JSON-encoded in one C-level pass each.
JSON escaping is per character, so the result is byte-identical to dumping the whole dict.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import orjson

from dw_notebook.build._values import fix_surrogates
from dw_notebook.build.errors import BuildError, InvalidTextError

SLOT_ID = "\x00dw-slot:custom_id\x00"
SLOT_VALUE = "\x00dw-slot:value\x00"


def split_skeleton(line: dict) -> tuple[bytes, bytes, bytes]:
    """Dump ``line`` (holding SLOT_ID and SLOT_VALUE once each) into its three literal pieces."""
    raw = orjson.dumps(line)
    id_json, value_json = orjson.dumps(SLOT_ID), orjson.dumps(SLOT_VALUE)
    if raw.count(id_json) != 1 or raw.count(value_json) != 1:
        raise BuildError(
            "The request parameters contain the reserved text '\\x00dw-slot:'. Fix: remove it."
        )
    head, rest = raw.split(id_json)
    middle, tail = rest.split(value_json)
    return head, middle, tail


def encode_strings(texts: Sequence[str]) -> list[bytes]:
    """JSON string literal (with quotes) of each text; lone surrogates become U+FFFD."""
    try:
        return list(map(orjson.dumps, texts))
    except TypeError:
        pass
    out = []
    for text in texts:
        try:
            out.append(orjson.dumps(text))
        except TypeError:
            if not isinstance(text, str):
                raise
            out.append(orjson.dumps(fix_surrogates(text)))
    return out


def encode_values(values: Sequence[object], labels: Sequence[object]) -> list[bytes]:
    """JSON of arbitrary per-row values (e.g. message lists from a prompt callable)."""
    out: list[bytes] = []
    bad: list[object] = []
    detail = ""
    for value, label in zip(values, labels, strict=True):
        try:
            out.append(orjson.dumps(value, default=_fallback))
        except TypeError as exc:
            try:
                out.append(orjson.dumps(_fix_nested(value), default=_fallback))
            except TypeError:
                bad.append(label)
                detail = detail or str(exc)
    if bad:
        raise InvalidTextError(
            bad, f"{detail}. Fix: return plain str/list/dict values from the prompt callable."
        )
    return out


def _fallback(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def _fix_nested(value: object) -> object:
    if isinstance(value, str):
        return fix_surrogates(value)
    if isinstance(value, dict):
        return {_fix_nested(k): _fix_nested(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_fix_nested(v) for v in value]
    return value


def assemble(
    head: bytes, ids: list[bytes], middle: bytes, values: list[bytes], tail: bytes
) -> tuple[bytes, np.ndarray]:
    """``(jsonl, offsets)``; ``offsets[i]:offsets[i+1]`` is line i including its newline."""
    n = len(ids)
    tail_nl = tail + b"\n"
    if not n:
        return b"", np.zeros(1, dtype=np.int64)
    parts: list[bytes] = [head] * (4 * n + 1)
    parts[1::4] = ids
    parts[2::4] = [middle] * n
    parts[3::4] = values
    parts[4::4] = [tail_nl + head] * n
    parts[-1] = tail_nl
    data = b"".join(parts)
    del parts
    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=n)
    lengths += np.fromiter(map(len, values), dtype=np.int64, count=n)
    lengths += len(head) + len(middle) + len(tail_nl)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return data, offsets
