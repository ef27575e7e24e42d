"""Structured output: a pydantic model or a JSON schema becomes a strict ``response_format``.

Strict mode (OpenAI, vLLM guided decoding) wants every object closed
(``additionalProperties: false``) with every property listed in ``required``; optional fields stay
optional by allowing ``null`` in their type, which is what pydantic already emits for
``x: int | None``.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from dw_notebook.jsonl.requests.errors import BuildError

_NAME_BAD = re.compile(r"[^a-zA-Z0-9_-]")


_MAPS = ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas")
_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_NODES = ("items", "not", "contains", "if", "then", "else")


def _strictify(node: Any) -> Any:
    """Close every object schema in ``node`` (walks only schema positions, not data keys)."""
    if not isinstance(node, dict):
        return node
    out = dict(node)
    for key in _MAPS:
        if isinstance(out.get(key), dict):
            out[key] = {k: _strictify(v) for k, v in out[key].items()}
    for key in _LISTS:
        if isinstance(out.get(key), list):
            out[key] = [_strictify(v) for v in out[key]]
    for key in _NODES:
        if isinstance(out.get(key), dict):
            out[key] = _strictify(out[key])
    types = out.get("type")
    if types == "object" or (isinstance(types, list) and "object" in types) or "properties" in out:
        out.setdefault("properties", {})
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out


def _name(raw: object) -> str:
    name = _NAME_BAD.sub("_", str(raw or "response"))[:64]
    return name or "response"


def response_format_for(spec: object) -> tuple[dict, dict]:
    """``(response_format, schema)`` for a pydantic model class or a JSON schema dict.

    Accepts a pydantic ``BaseModel`` subclass, a bare JSON schema, ``{"name", "schema"}``, or a
    full ``{"type": "json_schema", "json_schema": {...}}`` (made strict as well).
    """
    model_json_schema = getattr(spec, "model_json_schema", None)
    if isinstance(spec, type) and callable(model_json_schema):
        schema = model_json_schema()
        name = getattr(spec, "__name__", None)
    elif isinstance(spec, dict):
        inner = spec
        if spec.get("type") == "json_schema" and isinstance(spec.get("json_schema"), dict):
            inner = spec["json_schema"]
        if "schema" in inner and isinstance(inner["schema"], dict):
            schema, name = copy.deepcopy(inner["schema"]), inner.get("name")
        else:
            schema, name = copy.deepcopy(inner), inner.get("title")
    else:
        raise BuildError(
            f"response_format must be a pydantic model class or a JSON schema dict, not "
            f"{type(spec).__name__}. Fix: pass the class itself (response_format=Review), "
            f"not an instance."
        )
    schema = _strictify(schema)
    if schema.get("type") != "object":
        raise BuildError(
            "A structured-output schema must describe an object (type 'object') at the top "
            "level. Fix: wrap the value in a model with one field."
        )
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": _name(name), "strict": True, "schema": schema},
    }
    return response_format, schema
