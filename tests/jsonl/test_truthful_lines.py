"""Result lines are read leniently and reported strictly: a paid-for answer reaches its row, or
the row says exactly which line could not be read and why.

Property: for any mix of well-formed, string-body, salvageable and broken lines, every custom_id
in the files is either joined with its answer or reported with its line number; no row is ``ok``
without an answer, and none is ``not_run`` when a line for it exists.
"""

from __future__ import annotations

import warnings

import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dw_notebook.jsonl.results._table as result_lines
from dw_notebook.jsonl.requests import make_custom_ids
from dw_notebook.jsonl.results import STATUSES, join_results

from .result_lines import completion, embedding, http_error, jsonl, ok

IDS = make_custom_ids(pd.RangeIndex(6))
FRAME = pd.DataFrame({"x": range(6)})


def string_body(line: dict) -> dict:
    line = orjson.loads(orjson.dumps(line))
    line["response"]["body"] = orjson.dumps(line["response"]["body"]).decode()
    return line


# Each maker: custom_id, text -> (line bytes, the content the row must get, or None: unreadable)
def _well_formed(cid: str, text: str) -> tuple[bytes, str | None]:
    return orjson.dumps(ok(cid, text)), text


def _string_body(cid: str, text: str) -> tuple[bytes, str | None]:
    return orjson.dumps(string_body(ok(cid, text))), text


def _lone_surrogate(cid: str, text: str) -> tuple[bytes, str | None]:
    line = orjson.dumps(ok(cid, text + "@CUT@")).replace(b"@CUT@", b"\\ud83d")
    return line, text + "\ufffd"


def _nan_usage(cid: str, text: str) -> tuple[bytes, str | None]:
    return orjson.dumps(ok(cid, text, prompt_tokens=7)).replace(
        b'"prompt_tokens":7', b'"prompt_tokens":NaN'
    ), text


def _cut_after_content(cid: str, text: str) -> tuple[bytes, str | None]:
    whole = orjson.dumps(ok(cid, text))
    return whole[: whole.index(b'"finish_reason"')], text  # cut off after the answer


def _cut_before_content(cid: str, text: str) -> tuple[bytes, str | None]:
    whole = orjson.dumps(ok(cid, text))
    return whole[: whole.index(b'"choices"')], None


def _no_body(cid: str, text: str) -> tuple[bytes, str | None]:
    return orjson.dumps({"custom_id": cid, "response": {"status_code": 200}, "error": None}), None


def _empty_choices(cid: str, text: str) -> tuple[bytes, str | None]:
    line = ok(cid, text)
    line["response"]["body"]["choices"] = []
    return orjson.dumps(line), None


def _body_not_json(cid: str, text: str) -> tuple[bytes, str | None]:
    line = {"custom_id": cid, "response": {"status_code": 200, "body": "<html>oops"}}
    return orjson.dumps(line), None


FAILED = "<failed>"  # the row must say failed, with the reason


def _http_error(cid: str, text: str) -> tuple[bytes, str | None]:
    return orjson.dumps(http_error(cid, 500, "server_error", text or "boom")), FAILED


def _string_body_error(cid: str, text: str) -> tuple[bytes, str | None]:
    return orjson.dumps(string_body(http_error(cid, 400, None, text or "bad"))), FAILED


def _codeless_error(cid: str, text: str) -> tuple[bytes, str | None]:
    line = {"custom_id": cid, "error": {"type": "server_error", "message": text or "no"}}
    return orjson.dumps(line), FAILED


MAKERS = [
    _http_error,
    _string_body_error,
    _codeless_error,
    _well_formed,
    _string_body,
    _lone_surrogate,
    _nan_usage,
    _cut_after_content,
    _cut_before_content,
    _no_body,
    _empty_choices,
    _body_not_json,
]
text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters='"\\'), max_size=10
)
line = st.tuples(st.sampled_from(IDS), st.sampled_from(MAKERS), text)


def _join(lines: list[bytes], fast: bool) -> pd.DataFrame:
    saved = result_lines._FAST_MIN_BYTES
    result_lines._FAST_MIN_BYTES = 0 if fast else 10**12
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return join_results(FRAME, IDS, outputs=[("b1", b"\n".join(lines) + b"\n")])
    finally:
        result_lines._FAST_MIN_BYTES = saved


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=st.lists(line, min_size=1, max_size=14), fast=st.booleans())
def test_every_line_is_joined_with_its_answer_or_reported_with_its_number(spec, fast):
    lines, expected, latest, reported = [], {}, {}, {}
    for number, (cid, make, t) in enumerate(spec, start=1):
        data, content = make(cid, t)
        lines.append(data)
        if content is None:
            reported.setdefault(cid, set()).add(number)
            latest[cid] = ("unreadable", number)
        elif content is FAILED:
            latest[cid] = ("failed", number)
        else:
            expected[cid] = content  # an answer beats a failure; the latest answer wins
    out = _join(lines, fast)
    for row, cid in enumerate(IDS):
        status, error = out["status"].iloc[row], out["error"].iloc[row]
        if cid in expected:
            assert status == "ok" and out["content"].iloc[row] == expected[cid]
            assert pd.isna(error)
        elif cid in latest:  # no answer: the latest line says why, with its number if unread
            kind, number = latest[cid]
            assert status == kind and isinstance(error, str) and error
            if kind == "unreadable":
                assert f"line {number})" in error
        else:
            assert status == "not_run"
    answered = out["status"] == "ok"
    assert out.loc[answered, "content"].notna().all(), "no row is ok without an answer"
    assert out.attrs["dw_unreadable_count"] == sum(map(len, reported.values()))


def test_string_bodies_are_decoded_for_every_answer_shape():
    out = join_results(
        pd.DataFrame({"x": range(3)}),
        ["0", "1", "2"],
        outputs=[
            jsonl(
                string_body(ok("0", "chat")),
                string_body(completion("1", "text")),
                string_body(embedding("2", [0.5, 1.0])),
            )
        ],
    )
    assert out["status"].tolist() == ["ok"] * 3
    assert out["content"].tolist()[:2] == ["chat", "text"]
    assert out["embedding"].iloc[2].tolist() == [0.5, 1.0]
    assert out["prompt_tokens"].tolist() == [10, 4, 5]


def test_salvaged_and_unreadable_lines_are_counted_in_the_join_summary():
    data = b"\n".join([_lone_surrogate("0", "hi")[0], _no_body("1", "")[0]]) + b"\n"
    with pytest.warns(UserWarning) as seen:
        out = join_results(pd.DataFrame({"x": range(2)}), ["0", "1"], outputs=[data])
    texts = " | ".join(str(w.message) for w in seen)
    assert "1 answer(s) came back but could not be read" in texts
    assert "1 result line(s) were not valid JSON" in texts
    assert out.attrs["dw_salvaged_count"] == 1 and out.attrs["dw_unreadable_count"] == 1
    assert out.attrs["dw_salvaged_lines"][0]["line"] == 1
    assert out["status"].tolist() == ["ok", "unreadable"]
    assert out["error"].iloc[1] == (
        "answer received but unreadable (outputs[0] line 2): HTTP 200 with no response body"
    )


def test_unreadable_is_one_of_the_statuses():
    assert "unreadable" in STATUSES and len(set(STATUSES)) == len(STATUSES)
    assert STATUSES[-2:] == ("unreadable", "unparsed")  # new ones at the end: old codes keep
