"""build_requests: what each argument puts into the request lines."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel

from dw_notebook import wire
from dw_notebook.jsonl.requests import build_requests, make_custom_ids


def lines(built) -> list[dict]:
    text = built.data.decode("utf-8")
    assert text.endswith("\n") or not text
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def reviews() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "review": ['Great "phone"', "Bad\nbattery\\life", "ok 😀"],
            "stars": [5, 1, 3],
        },
        index=pd.Index(["r1", "r2", "r3"], name="id"),
    )


def test_template_renders_each_row_into_a_chat_request(reviews):
    built = build_requests(reviews, model="m", prompt="Review ({stars}*): {review}")
    got = lines(built)
    assert [r["custom_id"] for r in got] == ["r1", "r2", "r3"]
    for req, (_, row) in zip(got, reviews.iterrows(), strict=True):
        assert req["method"] == "POST"
        assert req["url"] == wire.CHAT
        assert req["body"] == {
            "model": "m",
            "messages": [{"role": "user", "content": f"Review ({row['stars']}*): {row['review']}"}],
        }
    assert built.n == 3 and built.endpoint == wire.CHAT and built.model == "m"
    assert built.custom_ids == ["r1", "r2", "r3"]
    assert built.positions.tolist() == [0, 1, 2]


def test_system_prompt_examples_and_body_params_go_into_every_body(reviews):
    examples = [{"role": "user", "content": "Review: meh"}, {"role": "assistant", "content": "3"}]
    built = build_requests(
        reviews,
        model="m",
        prompt="{review}",
        system="Rate it.",
        examples=examples,
        temperature=0,
        max_tokens=5,
        seed=7,
    )
    for req, text in zip(lines(built), reviews["review"], strict=True):
        body = req["body"]
        assert body["messages"] == [
            {"role": "system", "content": "Rate it."},
            *examples,
            {"role": "user", "content": text},
        ]
        assert (body["temperature"], body["max_tokens"], body["seed"]) == (0, 5, 7)
    assert built.params == {"temperature": 0, "max_tokens": 5, "seed": 7}


def test_double_braces_are_literal_braces(reviews):
    built = build_requests(reviews, model="m", prompt='{{"stars": {stars}}}')
    assert [r["body"]["messages"][0]["content"] for r in lines(built)] == [
        '{"stars": 5}',
        '{"stars": 1}',
        '{"stars": 3}',
    ]


def test_a_placeholder_can_be_used_twice(reviews):
    built = build_requests(reviews, model="m", prompt="{stars}/{stars}")
    assert lines(built)[1]["body"]["messages"][0]["content"] == "1/1"


def test_non_string_values_follow_the_documented_rule():
    df = pd.DataFrame(
        {
            "f": [3.0, 0.1, float("inf")],
            "b": [True, False, True],
            "d": pd.to_datetime(["2024-01-31", "2024-02-01 09:30", "2024-03-01"], format="ISO8601"),
            "o": [[1, "a"], {"k": 1}, b"bytes"],
        }
    )
    built = build_requests(df, model="m", prompt="{f}|{b}|{d}|{o}")
    got = [r["body"]["messages"][0]["content"] for r in lines(built)]
    assert got == [
        '3|True|2024-01-31T00:00:00|[1,"a"]',
        '0.1|False|2024-02-01T09:30:00|{"k":1}',
        "inf|True|2024-03-01T00:00:00|bytes",
    ]


def test_int_column_with_nan_renders_whole_numbers_without_decimal_point():
    df = pd.DataFrame({"n": [1, None, 3]})
    built = build_requests(df, model="m", prompt="n={n}", missing="skip")
    assert [r["body"]["messages"][0]["content"] for r in lines(built)] == ["n=1", "n=3"]


def test_callable_prompt_gives_full_control_of_messages(reviews):
    def messages(row: pd.Series) -> list[dict]:
        return [{"role": "user", "content": [{"type": "text", "text": row["review"]}]}]

    built = build_requests(reviews, model="m", prompt=messages, system="S")
    for req, text in zip(lines(built), reviews["review"], strict=True):
        assert req["body"]["messages"] == [
            {"role": "system", "content": "S"},
            {"role": "user", "content": [{"type": "text", "text": text}]},
        ]


def test_callable_returning_a_string_becomes_the_user_message(reviews):
    built = build_requests(reviews, model="m", prompt=lambda row: f"{row['stars']} stars")
    assert lines(built)[0]["body"]["messages"] == [{"role": "user", "content": "5 stars"}]


def test_embeddings_take_input_from_a_column(reviews):
    built = build_requests(
        reviews, model="e", endpoint="embeddings", input_column="review", dimensions=64
    )
    assert built.endpoint == wire.EMBEDDINGS
    for req, text in zip(lines(built), reviews["review"], strict=True):
        assert req["url"] == wire.EMBEDDINGS
        assert req["body"] == {"model": "e", "input": text, "dimensions": 64}


def test_completions_send_the_rendered_prompt(reviews):
    built = build_requests(reviews, model="c", endpoint="completions", prompt="Q: {review}\nA:")
    assert lines(built)[2]["body"] == {"model": "c", "prompt": "Q: ok 😀\nA:"}
    assert built.endpoint == wire.COMPLETIONS


def test_chat_input_column_sends_the_cell_as_the_user_message(reviews):
    built = build_requests(reviews, model="m", input_column="review")
    assert lines(built)[1]["body"]["messages"] == [
        {"role": "user", "content": "Bad\nbattery\\life"}
    ]


class Review(BaseModel):
    sentiment: Literal["positive", "negative"]
    stars: int
    note: str | None = None


def test_pydantic_model_becomes_a_strict_json_schema_response_format(reviews):
    built = build_requests(reviews, model="m", prompt="{review}", response_format=Review)
    rf = lines(built)[0]["body"]["response_format"]
    assert rf["type"] == "json_schema"
    assert rf["json_schema"]["name"] == "Review"
    assert rf["json_schema"]["strict"] is True
    schema = rf["json_schema"]["schema"]
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["sentiment", "stars", "note"]
    assert schema["properties"]["sentiment"]["enum"] == ["positive", "negative"]
    assert built.schema == schema


def test_nested_objects_in_a_dict_schema_are_closed_and_fully_required(reviews):
    schema = {
        "type": "object",
        "properties": {
            "who": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "properties": {"type": "string"}},
            },
            "tags": {
                "type": "array",
                "items": {"type": "object", "properties": {"t": {"type": "string"}}},
            },
        },
        "required": ["who"],
    }
    built = build_requests(
        reviews, model="m", prompt="{review}", response_format={"name": "x y!", "schema": schema}
    )
    rf = lines(built)[0]["body"]["response_format"]["json_schema"]
    assert rf["name"] == "x_y_"
    got = rf["schema"]
    assert got["required"] == ["who", "tags"]
    assert got["properties"]["who"]["required"] == ["name", "properties"]
    assert got["properties"]["who"]["additionalProperties"] is False
    assert got["properties"]["tags"]["items"]["additionalProperties"] is False
    assert schema["required"] == ["who"], "the caller's schema is not modified"


def test_tools_are_sent_in_the_body(reviews):
    tools = [
        {
            "type": "function",
            "function": {
                "name": "rate",
                "parameters": {"type": "object", "properties": {"stars": {"type": "integer"}}},
            },
        }
    ]
    built = build_requests(
        reviews, model="m", prompt="{review}", tools=tools, tool_choice="required"
    )
    body = lines(built)[0]["body"]
    assert body["tools"] == tools and body["tool_choice"] == "required"


def test_preview_shows_the_first_requests_as_sent(reviews):
    built = build_requests(reviews, model="m", prompt="{review}", system="S")
    assert built.preview(2) == lines(built)[:2]
    assert "BuiltRequests(3 requests" in repr(built)
    assert 'Great "phone"' in repr(built)
    html = built._repr_html_()
    assert "&quot;phone&quot;" in html and "<table" in html


def test_repr_shows_a_long_system_prompt_once_and_each_row_its_own_prompt(reviews):
    system = "You are a careful annotator of product reviews. " * 5
    built = build_requests(reviews, model="m", prompt="Costs $1 … $2: {review}", system=system)
    text = repr(built)
    system_lines = [line for line in text.splitlines() if "careful annotator" in line]
    assert len(system_lines) == 1 and system_lines[0].startswith("  system (every request): ")
    assert """r1: '[user] Costs $1 … $2: Great "phone"'""" in text  # the row's own prompt
    assert "r2: " in text  # each row's prompt, not only the system prompt
    assert "$" not in built._repr_html_()  # JupyterLab would typeset $…$ as math


def test_fingerprint_is_sha256_of_endpoint_and_bytes(reviews):
    built = build_requests(reviews, model="m", prompt="{review}")
    expected = hashlib.sha256(wire.CHAT.encode() + b"\n" + built.data).hexdigest()
    assert built.fingerprint() == expected
    other = build_requests(reviews, model="m", prompt="{review}!")
    assert other.fingerprint() != built.fingerprint()
    again = build_requests(reviews.copy(), model="m", prompt="{review}")
    assert again.fingerprint() == built.fingerprint()


def test_chunks_respect_request_and_byte_limits():
    df = pd.DataFrame({"t": [f"text number {i} " * (i % 7 + 1) for i in range(1000)]})
    built = build_requests(df, model="m", prompt="{t}")
    sizes = np.diff(built.line_offsets)
    for max_requests, max_bytes in [(300, 10**9), (10**6, 5000), (97, 3000)]:
        chunks = built.chunks(max_requests=max_requests, max_bytes=max_bytes)
        assert b"".join(c.data for c in chunks) == built.data
        assert [c.start for c in chunks] == [0, *np.cumsum([c.n for c in chunks])[:-1]]
        for c in chunks:
            assert c.n <= max_requests
            assert len(c.data) <= max_bytes
            assert len(c.data) == c.nbytes == sizes[c.start : c.start + c.n].sum()
            assert c.data.count(b"\n") == c.n
            assert c.custom_ids == built.custom_ids[c.start : c.start + c.n]
        # greedy: each chunk is full, i.e. the next line would not have fit
        for c, nxt in zip(chunks, chunks[1:], strict=False):
            assert c.n == max_requests or c.nbytes + sizes[nxt.start] > max_bytes


def test_one_chunk_when_under_the_limits(reviews):
    built = build_requests(reviews, model="m", prompt="{review}")
    (chunk,) = built.chunks()
    assert chunk.data is built.data and chunk.n == 3 and chunk.start == 0


def test_a_line_larger_than_max_bytes_cannot_be_chunked(reviews):
    built = build_requests(reviews, model="m", prompt="{review}")
    with pytest.raises(ValueError, match="more than max_bytes"):
        built.chunks(max_bytes=50)


def test_line_accessor_returns_each_request_without_newline(reviews):
    built = build_requests(reviews, model="m", prompt="{review}")
    assert [built.line(i) for i in range(3)] == built.data.splitlines()


def test_custom_ids_come_from_make_custom_ids(reviews):
    df = reviews.set_index(pd.Index(["dup", "dup", "x"]))
    built = build_requests(df, model="m", prompt="{review}")
    values = [v.encode() for v in df["review"]]  # the values the requests use
    assert built.custom_ids == make_custom_ids(df.index, values)
    assert len(set(built.custom_ids)) == 3 and built.custom_ids[2] == "x"


def test_id_column_supplies_custom_ids(reviews):
    df = reviews.assign(key=["k1", "k2", "k3"])
    built = build_requests(df, model="m", prompt="{review}", id_column="key")
    assert [r["custom_id"] for r in lines(built)] == ["k1", "k2", "k3"]


def test_skipped_rows_are_left_out_and_remembered():
    df = pd.DataFrame({"t": ["a", None, "c", np.nan]}, index=[10, 20, 30, 40])
    built = build_requests(df, model="m", prompt="{t}", missing="skip")
    assert built.n == 2
    assert built.positions.tolist() == [0, 2]
    assert built.custom_ids == ["10", "30"]
    assert built.row_ids == ["10", None, "30", None]
    assert built.skipped == [20, 40]
    assert "2 rows skipped" in repr(built)


def test_missing_empty_sends_empty_text_for_missing_cells():
    df = pd.DataFrame({"t": ["a", None], "u": ["x", "y"]})
    built = build_requests(df, model="m", prompt="[{t}] {u}", missing="empty")
    assert [r["body"]["messages"][0]["content"] for r in lines(built)] == ["[a] x", "[] y"]


def test_empty_frame_builds_no_lines():
    built = build_requests(pd.DataFrame({"t": pd.Series([], dtype=str)}), model="m", prompt="{t}")
    assert built.n == 0 and built.data == b"" and built.chunks() == []


def test_object_column_with_lone_surrogate_is_replaced_not_broken():
    df = pd.DataFrame({"t": pd.Series(["ok", "bad \ud800 text"], dtype=object)})
    built = build_requests(df, model="m", prompt="{t}")
    assert lines(built)[1]["body"]["messages"][0]["content"] == "bad \ufffd text"


def test_integer_column_names_can_be_placeholders():
    df = pd.DataFrame({0: ["a"], 1: ["b"]})
    built = build_requests(df, model="m", prompt="{0}-{1}")
    assert lines(built)[0]["body"]["messages"][0]["content"] == "a-b"


def test_a_prompt_without_placeholders_is_sent_for_every_row(reviews):
    built = build_requests(reviews, model="m", prompt='Say "hi"')
    assert [r["body"]["messages"][0]["content"] for r in lines(built)] == ['Say "hi"'] * 3
