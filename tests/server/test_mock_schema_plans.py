"""Mock answers made from a cached plan of the schema equal those of the walk they replace."""

from __future__ import annotations

import hashlib

import pytest

from dw_notebook.server.mock_schema import generate, generate_cached

NODE = {"type": "object", "properties": {"next": {"$ref": "#"}, "n": {"type": "integer"}}}
SCHEMAS = [
    {"type": "object", "properties": {"s": {"enum": ["a", "b", "c"]}, "c": {"type": "number"}}},
    {
        "type": "object",
        "properties": {
            "const": {"const": {"k": [1, 2]}},
            "int": {"type": "integer", "minimum": 3, "exclusiveMaximum": 9, "multipleOf": 2},
            "float": {"type": "number", "exclusiveMinimum": 0.5, "maximum": 1},
            "whole": {"type": "number", "minimum": 1.0, "maximum": 2},
            "flag": {"type": "boolean"},
            "none": {"type": "null"},
            "text": {"type": "string", "format": "uuid"},
            "guess": {"properties": {"x": {"type": "integer"}}},
            "list": {"items": {"enum": [1, 2]}, "uniqueItems": True, "maxItems": 4},
            "either": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "one": {"oneOf": []},
            "both": {"allOf": [{"properties": {"a": {"type": "boolean"}}}, {"required": ["a"]}]},
            "kinds": {"type": ["integer", "string", "null"]},
            "ref": {"$ref": "#/$defs/item"},
            "bad_ref": {"$ref": "#/$defs/missing"},
            "odd": {"type": "mystery"},
            "not_a_schema": 7,
        },
        "$defs": {"item": {"type": "object", "properties": {"id": {"type": "integer"}}}},
    },
    NODE,  # recursive: cut at the depth limit
    {"type": "array", "items": NODE},
    {"enum": [1.0, 1, True]},
    {"type": "object"},
    {},
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_cached_plans_give_the_same_values_as_the_walk(schema):
    for i in range(40):
        seed = hashlib.sha256(str(i).encode()).digest()
        assert repr(generate_cached(schema, seed)) == repr(generate(schema, seed))


def test_schemas_equal_but_for_number_types_get_their_own_plans():
    seed = b"s" * 32
    for value in (1, 1.0, True):
        schema = {"type": "object", "properties": {"c": {"const": value}}}
        assert repr(generate_cached(schema, seed)) == repr({"c": value})


def test_a_schema_that_breaks_the_walk_breaks_the_cached_plan_the_same_way():
    schema = {"type": "object", "properties": ["not", "a", "dict"]}
    with pytest.raises(AttributeError):
        generate(schema, b"x")
    with pytest.raises(AttributeError):
        generate_cached(schema, b"x")
