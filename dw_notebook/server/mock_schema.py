"""Deterministic JSON values valid against a JSON schema, chosen by a stable hash."""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

_MAX_DEPTH = 12
_WORDS = ("alpha", "bravo", "cedar", "delta", "ember", "fjord", "grove", "harbor", "indigo")


def _pick(seed: bytes, path: str) -> int:
    """A stable 64-bit integer for one decision at ``path``."""
    return int.from_bytes(hashlib.sha256(seed + path.encode()).digest()[:8], "big")


def _resolve(schema: dict, root: dict) -> dict:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    node: Any = root
    for part in ref[2:].split("/"):
        node = (
            node.get(part.replace("~1", "/").replace("~0", "~"), {})
            if isinstance(node, dict)
            else {}
        )
    return _resolve(node, root) if isinstance(node, dict) else {}


def generate(
    schema: Any, seed: bytes, root: dict | None = None, path: str = "$", depth: int = 0
) -> Any:
    """Return a value valid against ``schema``; the same ``seed`` always gives the same value.

    >>> generate({"enum": ["a", "b"]}, b"x") in ("a", "b")
    True
    """
    if not isinstance(schema, dict):
        return None
    root = schema if root is None else root
    if "$ref" in schema:
        schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    options = schema.get("enum")
    if isinstance(options, list) and options:
        return options[_pick(seed, path) % len(options)]
    for key in ("anyOf", "oneOf"):
        if key not in schema:  # the common case, without building a list
            continue
        options = [o for o in schema[key] or [] if isinstance(o, dict)]
        if options:
            non_null = [o for o in options if o.get("type") != "null"] or options
            return generate(
                non_null[_pick(seed, path + key) % len(non_null)], seed, root, path, depth
            )
    if isinstance(schema.get("allOf"), list):
        merged: dict = {}
        for part in schema["allOf"]:
            part = _resolve(part, root) if isinstance(part, dict) else {}
            for k, v in part.items():
                if k in ("properties", "$defs") and isinstance(v, dict):
                    merged.setdefault(k, {}).update(v)
                elif k == "required" and isinstance(v, list):
                    merged.setdefault("required", []).extend(v)
                else:
                    merged[k] = v
        return generate(merged, seed, root, path, depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"] or ["null"]
        kind = kinds[_pick(seed, path + "type") % len(kinds)]
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if depth > _MAX_DEPTH and kind in ("object", "array"):
        return {} if kind == "object" else []
    if kind == "object":
        props = schema.get("properties") or {}
        return {
            name: generate(sub, seed, root, f"{path}.{name}", depth + 1)
            for name, sub in props.items()
        }
    if kind == "array":
        lo = int(schema.get("minItems", 1))
        hi = int(schema.get("maxItems", lo + 2))
        n = lo + _pick(seed, path + "len") % (max(hi, lo) - lo + 1)
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        if not schema.get("uniqueItems"):
            return [generate(items, seed, root, f"{path}[{i}]", depth + 1) for i in range(n)]
        found: list = []
        for i in range(n * 8):  # draw until n distinct values (an enum may have fewer)
            value = generate(items, seed, root, f"{path}[{i}]", depth + 1)
            if value not in found:
                found.append(value)
            if len(found) == n:
                break
        return found
    if kind == "boolean":
        return bool(_pick(seed, path) % 2)
    if kind == "null":
        return None
    if kind in ("integer", "number"):
        return _number(schema, seed, path, kind == "integer")
    return _string(schema, seed, path)


def _number(schema: dict, seed: bytes, path: str, integer: bool) -> int | float:
    lo = schema.get("minimum", schema.get("exclusiveMinimum", 0))
    hi = schema.get("maximum", schema.get("exclusiveMaximum", lo + 100))
    if not isinstance(lo, (int, float)) or isinstance(lo, bool):
        lo = 0
    if not isinstance(hi, (int, float)) or isinstance(hi, bool) or hi < lo:
        hi = lo + 100
    if integer:
        lo_i = math.ceil(lo) + (1 if schema.get("exclusiveMinimum") == lo else 0)
        hi_i = math.floor(hi) - (1 if schema.get("exclusiveMaximum") == hi else 0)
        hi_i = max(hi_i, lo_i)
        value = lo_i + _pick(seed, path) % (hi_i - lo_i + 1)
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0:
            value = (value // step) * step if (value // step) * step >= lo_i else value
        return value
    frac = (_pick(seed, path) % 10_000) / 10_000
    value = lo + (hi - lo) * frac
    if schema.get("exclusiveMinimum") == lo and value == lo:
        value = lo + (hi - lo) / 2
    return round(value, 4)


def _string(schema: dict, seed: bytes, path: str) -> str:
    h = _pick(seed, path)
    fmt = schema.get("format")
    if fmt == "date":
        return f"2026-{1 + h % 12:02d}-{1 + h % 28:02d}"
    if fmt == "date-time":
        return f"2026-{1 + h % 12:02d}-{1 + h % 28:02d}T{h % 24:02d}:{h % 60:02d}:00Z"
    if fmt == "email":
        return f"{_WORDS[h % len(_WORDS)]}@example.com"
    if fmt == "uuid":
        hx = hashlib.sha256(seed + path.encode()).hexdigest()
        return f"{hx[:8]}-{hx[8:12]}-4{hx[13:16]}-8{hx[17:20]}-{hx[20:32]}"
    text = f"{_WORDS[h % len(_WORDS)]} {_WORDS[(h >> 8) % len(_WORDS)]}"
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            if not re.search(pattern, text):
                text = _WORDS[h % len(_WORDS)]
        except re.error:
            pass
    lo = int(schema.get("minLength", 0))
    hi = schema.get("maxLength")
    while len(text) < lo:
        text += "x"
    if isinstance(hi, int):
        text = text[:hi]
    return text
