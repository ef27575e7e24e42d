"""The mock backend calls functions when tools are offered, with arguments valid for them."""

from __future__ import annotations

import jsonschema
import orjson

from dw_notebook.server.backends import MockBackend

LABEL_PARAMS = {
    "type": "object",
    "properties": {"label": {"enum": ["a", "b"]}, "score": {"type": "number"}},
    "required": ["label", "score"],
    "additionalProperties": False,
}
TOOLS = [
    {"type": "function", "function": {"name": "label", "parameters": LABEL_PARAMS}},
    {"type": "function", "function": {"name": "skip", "parameters": {"type": "object"}}},
]


def _body(text: str, **extra) -> dict:
    return {"model": "m", "messages": [{"role": "user", "content": text}], "tools": TOOLS, **extra}


def test_offered_tools_are_called_with_arguments_valid_for_their_schema():
    names = set()
    for i in range(30):
        status, reply = MockBackend().respond("/v1/chat/completions", _body(f"row {i}"))
        assert status == 200
        choice = reply["choices"][0]
        assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
        call = choice["message"]["tool_calls"][0]["function"]
        params = next(t["function"]["parameters"] for t in TOOLS
                      if t["function"]["name"] == call["name"])  # fmt: skip
        jsonschema.validate(orjson.loads(call["arguments"]), params)
        names.add(call["name"])
    assert names == {"label", "skip"}  # the choice varies by prompt


def test_tool_choice_none_answers_text_and_a_named_choice_is_obeyed():
    _, text = MockBackend().respond("/v1/chat/completions", _body("x", tool_choice="none"))
    assert isinstance(text["choices"][0]["message"]["content"], str)
    named = {"type": "function", "function": {"name": "label"}}
    for i in range(10):
        _, reply = MockBackend().respond("/v1/chat/completions", _body(f"{i}", tool_choice=named))
        assert reply["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "label"
