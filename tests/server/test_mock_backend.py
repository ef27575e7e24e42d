"""The mock backend's pure answers: deterministic, schema-valid, realistic."""

from __future__ import annotations

import jsonschema
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dw_notebook.server.backends import LABELS, MockBackend

CHAT = "/v1/chat/completions"


def _chat(text: str, **extra) -> dict:
    return {"model": "mock", "messages": [{"role": "user", "content": text}], **extra}


SCHEMA = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": ["spam", "ham", "unsure"]},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "stars": {"type": "integer", "minimum": 1, "maximum": 5},
        "urgent": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
        "topics": {
            "type": "array",
            "items": {"enum": ["price", "quality", "delivery", "support"]},
            "minItems": 2,
            "maxItems": 4,
            "uniqueItems": True,
        },
        "author": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 12},
                "email": {"type": "string", "format": "email"},
            },
            "required": ["name", "email"],
            "additionalProperties": False,
        },
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "kind": {"$ref": "#/$defs/kind"},
    },
    "required": ["label", "score", "stars", "urgent", "tags", "topics", "author", "note", "kind"],
    "additionalProperties": False,
    "$defs": {"kind": {"type": "string", "enum": ["a", "b"]}},
}


def _fmt(schema: dict) -> dict:
    return {"type": "json_schema", "json_schema": {"name": "x", "strict": True, "schema": schema}}


def test_plain_chat_answers_one_label_by_a_stable_hash():
    mock = MockBackend()
    answers = [mock.respond(CHAT, _chat(f"text {i}"))[1] for i in range(30)]
    contents = [a["choices"][0]["message"]["content"] for a in answers]
    assert set(contents) == set(LABELS)  # labels vary across rows
    again = [MockBackend().respond(CHAT, _chat(f"text {i}"))[1] for i in range(30)]
    assert again == answers  # and agree on reruns
    first = answers[0]
    assert first["object"] == "chat.completion"
    assert first["choices"][0]["finish_reason"] == "stop"
    usage = first["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_prompt_tokens_grow_with_the_messages():
    mock = MockBackend()
    short = mock.respond(CHAT, _chat("hi"))[1]["usage"]["prompt_tokens"]
    long = mock.respond(CHAT, _chat("hi " * 400))[1]["usage"]["prompt_tokens"]
    assert 250 < long < 350 and short < 10


def test_json_schema_answers_validate_and_vary_by_prompt():
    mock = MockBackend()
    labels = set()
    for i in range(40):
        status, body = mock.respond(CHAT, _chat(f"email {i}", response_format=_fmt(SCHEMA)))
        assert status == 200
        value = orjson.loads(body["choices"][0]["message"]["content"])
        jsonschema.validate(value, SCHEMA)
        labels.add(value["label"])
    assert labels == {"spam", "ham", "unsure"}


@settings(max_examples=60, deadline=None)
@given(
    st.recursive(
        st.sampled_from(
            [
                {"type": "string"},
                {"type": "integer", "minimum": -5, "maximum": 5},
                {"type": "number"},
                {"type": "boolean"},
                {"type": "null"},
                {"enum": ["x", "y", 3]},
                {"type": "string", "format": "date"},
            ]
        ),
        lambda inner: st.one_of(
            st.builds(lambda i: {"type": "array", "items": i, "maxItems": 2}, inner),
            st.dictionaries(st.text("abcdef", min_size=1, max_size=4), inner, max_size=3).map(
                lambda props: {
                    "type": "object",
                    "properties": props,
                    "required": list(props),
                    "additionalProperties": False,
                }
            ),
        ),
        max_leaves=8,
    ),
    st.text(max_size=30),
)
def test_any_generated_schema_gets_a_valid_answer(schema, prompt):
    status, body = MockBackend().respond(CHAT, _chat(prompt, response_format=_fmt(schema)))
    jsonschema.validate(orjson.loads(body["choices"][0]["message"]["content"]), schema)


def test_small_max_tokens_truncates_with_finish_reason_length():
    mock = MockBackend()
    body = mock.respond(CHAT, _chat("x", response_format=_fmt(SCHEMA), max_tokens=3))[1]
    choice = body["choices"][0]
    assert choice["finish_reason"] == "length"
    assert len(choice["message"]["content"]) <= 12
    assert body["usage"]["completion_tokens"] == 3


def test_embeddings_are_deterministic_unit_vectors_per_input():
    mock = MockBackend(dimension=16)
    _, a = mock.respond("/v1/embeddings", {"model": "m", "input": ["one", "two"]})
    _, b = mock.respond("/v1/embeddings", {"model": "m", "input": "one"})
    vec = a["data"][0]["embedding"]
    assert len(vec) == 16 and abs(sum(v * v for v in vec) - 1) < 1e-4
    assert b["data"][0]["embedding"] == vec and a["data"][1]["embedding"] != vec
    assert a["usage"]["prompt_tokens"] > 0


def test_completions_answer_text():
    status, body = MockBackend().respond("/v1/completions", {"model": "m", "prompt": "Hello"})
    assert status == 200 and body["choices"][0]["text"] in LABELS


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_failure_rate_gives_realistic_errors_chosen_stably(rate):
    mock = MockBackend(failure_rate=rate)
    results = [mock.respond(CHAT, _chat(f"row {i}")) for i in range(400)]
    failed = [r for r in results if r[0] != 200]
    assert abs(len(failed) / 400 - rate) < 0.08
    assert {code for code, _ in failed} == {400, 500}
    assert all(set(body["error"]) == {"message", "type", "param", "code"} for _, body in failed)
    assert results == [mock.respond(CHAT, _chat(f"row {i}")) for i in range(400)]


def test_unknown_endpoint_is_a_404_answer():
    status, body = MockBackend().respond("/v1/images", {"model": "m"})
    assert status == 404 and "error" in body
