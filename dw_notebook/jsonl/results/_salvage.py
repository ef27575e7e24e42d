"""Reading result lines that strict JSON refuses, so a paid-for answer is not thrown away.

Two steps, both only for lines orjson refused:

1. ``lenient_loads``: Python's own JSON reader, which accepts what real servers write by mistake
   (``NaN`` / ``Infinity`` in ``usage``, a lone surrogate escape such as ``"\\ud83d"`` from a cut
   emoji, invalid UTF-8 bytes); lone surrogates become U+FFFD and non-finite numbers None.
2. ``salvage_fields``: for a line that is not JSON at all (cut off, garbled), the fields a row
   needs are picked out one by one: ``custom_id``, ``status_code`` and the answer ``content``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")
_STRING = rb'"((?:[^"\\]|\\.)*)"'
_CUSTOM_ID = re.compile(rb'"custom_id"\s*:\s*' + _STRING)
_STATUS = re.compile(rb'"status_code"\s*:\s*(\d{3})\b')
_CONTENT = re.compile(rb'"(?:content|text)"\s*:\s*' + _STRING)
_FINISH = re.compile(rb'"finish_reason"\s*:\s*' + _STRING)
_MESSAGE = re.compile(rb'"message"\s*:\s*' + _STRING)


def _clean(value: Any) -> Any:
    """Lone surrogates -> U+FFFD, NaN and infinities -> None, all the way down."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def lenient_loads(line: bytes) -> Any:
    """The line as JSON read leniently (raises ``ValueError`` when it is not JSON at all)."""
    return _clean(json.loads(line.decode("utf-8", "replace")))


def _string(match: re.Match[bytes] | None) -> str | None:
    if match is None:
        return None
    raw = match.group(1).decode("utf-8", "replace")
    try:
        return _clean(json.loads(f'"{raw}"'))
    except ValueError:
        return _clean(raw)


def salvage_fields(line: bytes) -> dict[str, Any]:
    """The fields found in a line that is not JSON: ``custom_id``, ``status_code``,
    ``content``, ``finish_reason`` and an error ``message`` (each only when found)."""
    found: dict[str, Any] = {}
    if (cid := _string(_CUSTOM_ID.search(line))) is not None:
        found["custom_id"] = cid
    if status := _STATUS.search(line):
        found["status_code"] = int(status.group(1))
    if (content := _string(_CONTENT.search(line))) is not None:
        found["content"] = content
    if (finish := _string(_FINISH.search(line))) is not None:
        found["finish_reason"] = finish
    if (message := _string(_MESSAGE.search(line))) is not None:
        found["message"] = message
    return found
