"""Deterministic JSON values valid against a JSON schema, chosen by a stable hash."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from typing import Any

import orjson

_MAX_DEPTH = 12
_PLANS_KEPT = 256  # distinct schemas whose plans are cached (a batch usually has one)
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


Plan = Callable[[bytes], Any]
_plans: dict[bytes, Plan] = {}


def generate_cached(schema: Any, seed: bytes) -> Any:
    """``generate(schema, seed)``, with the walk over the schema done once per distinct schema.

    >>> s = {"type": "object", "properties": {"n": {"type": "integer"}}}
    >>> generate_cached(s, b"x") == generate(s, b"x")
    True
    """
    try:
        key = orjson.dumps(schema)  # JSON text tells 1 from 1.0 and true, as the walk does
    except orjson.JSONEncodeError:
        return generate(schema, seed)
    plan = _plans.get(key)
    if plan is None:
        if len(_plans) >= _PLANS_KEPT:
            _plans.clear()
        plan = _plans[key] = _plan(schema, schema, "$", 0)
    return plan(seed)


def _plan(schema: Any, root: dict, path: str, depth: int) -> Plan:
    """What ``generate`` does at this node for any seed: the choices that do not depend on the
    seed are made here; anything but objects, enums, constants, booleans and numbers is left
    to ``generate`` itself."""
    if not isinstance(schema, dict):
        return lambda seed: None
    given = schema
    if "$ref" in schema:
        schema = _resolve(schema, root)
    if "const" in schema:
        const = schema["const"]
        return lambda seed: const
    options = schema.get("enum")
    if isinstance(options, list) and options:
        return lambda seed: options[_pick(seed, path) % len(options)]
    kind = schema.get("type")
    if "anyOf" in schema or "oneOf" in schema or "allOf" in schema or isinstance(kind, list):
        return lambda seed: generate(given, seed, root, path, depth)
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if depth > _MAX_DEPTH and kind == "object":
        return lambda seed: {}
    if kind == "object":
        props = schema.get("properties") or {}
        subs = [
            (name, _plan(sub, root, f"{path}.{name}", depth + 1)) for name, sub in props.items()
        ]
        return lambda seed: {name: sub(seed) for name, sub in subs}
    if kind == "boolean":
        return lambda seed: bool(_pick(seed, path) % 2)
    if kind in ("integer", "number"):
        allowed = _number_range(schema, kind == "integer")
        return lambda seed: _draw(allowed, seed, path)
    return lambda seed: generate(given, seed, root, path, depth)


def _number(schema: dict, seed: bytes, path: str, integer: bool) -> int | float:
    return _draw(_number_range(schema, integer), seed, path)


def _number_range(schema: dict, integer: bool) -> tuple:
    """What a number node allows, worked out once: ("int", lo, hi, multipleOf) or
    ("float", lo, hi, whether lo is exclusive)."""
    lo = schema.get("minimum", schema.get("exclusiveMinimum", 0))
    hi = schema.get("maximum", schema.get("exclusiveMaximum", lo + 100))
    if not isinstance(lo, (int, float)) or isinstance(lo, bool):
        lo = 0
    if not isinstance(hi, (int, float)) or isinstance(hi, bool) or hi < lo:
        hi = lo + 100
    if integer:
        lo_i = math.ceil(lo) + (1 if schema.get("exclusiveMinimum") == lo else 0)
        hi_i = math.floor(hi) - (1 if schema.get("exclusiveMaximum") == hi else 0)
        return "int", lo_i, max(hi_i, lo_i), schema.get("multipleOf")
    return "float", lo, hi, schema.get("exclusiveMinimum") == lo


def _draw(allowed: tuple, seed: bytes, path: str) -> int | float:
    kind, lo, hi, extra = allowed
    if kind == "int":
        value = lo + _pick(seed, path) % (hi - lo + 1)
        if isinstance(extra, int) and extra > 0:  # multipleOf
            value = (value // extra) * extra if (value // extra) * extra >= lo else value
        return value
    frac = (_pick(seed, path) % 10_000) / 10_000
    value = lo + (hi - lo) * frac
    if extra and value == lo:  # exclusive minimum
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
