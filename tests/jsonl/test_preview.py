"""BuiltRequests.preview(): the requests as sent, shown readably (shared parts once)."""

from __future__ import annotations

import json
from typing import Literal

import pandas as pd
import pytest
from pydantic import BaseModel

from dw_notebook.jsonl.requests import build_requests

SYSTEM = "You label product reviews.\nAnswer in JSON. " + "Be careful. " * 30


class Review(BaseModel):
    sentiment: Literal["positive", "negative", "neutral"]
    stars: int


@pytest.fixture
def built():
    df = pd.DataFrame(
        {"review": ["Loved it, $5 well spent", "<script>alert(1)</script> broke", "meh"]},
        index=pd.Index(["r1", "r2", "r3"]),
    )
    return build_requests(df, model="m", prompt="Classify: {review}", system=SYSTEM,
                          response_format=Review, max_tokens=50, temperature=0)  # fmt: skip


def raw(built, n):
    return [json.loads(line) for line in built.data.decode().splitlines()[:n]]


def test_the_preview_is_the_requests_as_sent(built):
    preview = built.preview(2)
    assert preview == raw(built, 2) and preview.requests == raw(built, 2)
    assert type(preview.requests) is list
    assert [r["custom_id"] for r in preview] == ["r1", "r2"]
    assert preview[0]["body"]["response_format"]["json_schema"]["name"] == "Review"


def test_text_shows_the_shared_system_and_schema_once_and_each_rows_prompt(built):
    text = repr(built.preview(3))
    assert text.splitlines()[0] == "Preview: 3 of 3 requests to /v1/chat/completions · model m"
    assert text.count("You label product reviews") == 1
    assert text.count("Review: sentiment (positive|negative|neutral), stars (integer)") == 1
    assert '"properties"' not in text  # not the whole schema
    for cid, review in (("r1", "Loved it, $5"), ("r2", "<script>"), ("r3", "meh")):
        line = next(x for x in text.splitlines() if x.startswith(f"  {cid}: "))
        assert f"[user] Classify: {review}" in line and "[system]" not in line
        assert "max_tokens=50" in line and "temperature=0" in line


def test_html_is_a_table_with_the_shared_parts_once_and_everything_escaped(built):
    html = built.preview(3)._repr_html_()
    assert html.count("<tr>") == 4  # a header and one row per request
    assert html.count("You label product reviews") == 1
    assert html.count("Be careful.") == 30  # the system prompt whole, once
    assert html.count("Review: sentiment") == 1 and "<details>" in html  # schema on demand
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "$" not in html and "&#36;5 well spent" in html  # no LaTeX typesetting
    assert "max_tokens=50" in html
    assert html.count("[system]") == 0


def test_rows_that_differ_keep_their_own_system_prompt():
    df = pd.DataFrame({"q": ["a", "b"]})

    def messages(row):
        return [{"role": "system", "content": f"sys {row['q']}"},
                {"role": "user", "content": row["q"]}]  # fmt: skip

    built = build_requests(df, model="m", prompt=messages)
    text = repr(built.preview(2))
    assert "every request" not in text
    assert "[system] sys a" in text and "[system] sys b" in text
    assert built._repr_html_().count("sys ") == 2


def test_the_build_repr_shows_every_rows_prompt_not_only_the_system(built):
    text = repr(built)
    assert text.startswith("BuiltRequests(3 requests to /v1/chat/completions")
    assert text.count("You label product reviews") == 1
    assert "[user] Classify: Loved it" in text and "[user] Classify: <script>" in text
    html = built._repr_html_()
    assert "BuiltRequests" in html and "$" not in html and "<script>" not in html
