"""JSON pieces of a request line: the skeleton dumped once, and per-row JSON for callables.

JSON escaping is per character, so splicing escaped per-row text between literal pieces of the
dumped skeleton gives exactly the bytes of dumping each whole request.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import orjson

from dw_notebook.jsonl.requests._values import fix_surrogates
from dw_notebook.jsonl.requests.errors import BuildError, InvalidTextError

SLOT_ID = "\x00dw-slot:custom_id\x00"
SLOT_VALUE = "\x00dw-slot:value\x00"


def split_skeleton(line: dict, *, text_value: bool) -> tuple[bytes, bytes, bytes]:
    """Dump ``line`` (holding SLOT_ID and SLOT_VALUE once each) into its three literal pieces.

    The id slot keeps its quotes in the literals; so does the value slot when ``text_value``
    (the per-row value is then escaped text), else the value is a whole JSON value.
    """
    try:
        raw = orjson.dumps(line)
    except TypeError:  # lone surrogates or numpy scalars in the system prompt or parameters
        try:
            raw = orjson.dumps(_fix_nested(line), default=_fallback)
        except TypeError as exc:
            raise BuildError(
                f"The request parameters are not JSON-serializable ({exc}). Fix: pass plain "
                "str/int/float/bool/list/dict values."
            ) from None
    id_json = orjson.dumps(SLOT_ID)[1:-1]
    value_json = orjson.dumps(SLOT_VALUE)
    if text_value:
        value_json = value_json[1:-1]
    if raw.count(id_json) != 1 or raw.count(value_json) != 1:
        raise BuildError(
            "The request parameters contain the reserved text '\\x00dw-slot:'. Fix: remove it."
        )
    head, rest = raw.split(id_json)
    middle, tail = rest.split(value_json)
    return head, middle, tail


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
