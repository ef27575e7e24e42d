"""Property tests: every built line is valid JSON that round-trips to the intended request.

Arbitrary text includes quotes, backslashes, control characters, emoji and lone surrogates. The
documented rule for lone surrogates (which JSON text cannot carry) is replacement by U+FFFD.
"""

from __future__ import annotations

import json
import re

import orjson
import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dw_notebook.jsonl.requests import build_requests, make_custom_ids
from dw_notebook.jsonl.requests._escape import escape_array
from dw_notebook.jsonl.requests._ids import is_valid_custom_id

_SURROGATE = re.compile("[\ud800-\udfff]")
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# every code point, surrogates included, with the tricky ASCII ones made likely
tricky = st.sampled_from(
    [
        '"',
        "\\",
        "\n",
        "\r",
        "\t",
        "\x00",
        "\x1f",
        "\x7f",
        "\u2028",
        "😀",
        "é",
        "{",
        "}",
        "\ud800",
        "\udfff",
    ]
)
text = st.lists(st.one_of(st.characters(), tricky), max_size=40).map("".join)
clean_text = st.lists(
    st.one_of(
        st.characters(exclude_categories=["Cs"]), tricky.filter(lambda c: not _SURROGATE.match(c))
    ),
    max_size=40,
).map("".join)


def expected(value: str) -> str:
    return _SURROGATE.sub("\ufffd", value)


def strict_loads(line: bytes) -> dict:
    """Python's json, refusing anything that is not strict JSON."""

    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(line.decode("utf-8"), parse_constant=refuse)


@SETTINGS
@given(
    a=st.lists(text, min_size=1, max_size=8),
    literal=text,
    system=text,
)
def test_template_lines_round_trip_for_arbitrary_text(a, literal, system):
    b = list(reversed(a))
    df = pd.DataFrame({"a": pd.Series(a, dtype=object), "b": pd.Series(b, dtype=object)})
    template = literal.replace("{", "{{").replace("}", "}}") + "<{a}|{b}>"
    built = build_requests(df, model="m", prompt=template, system=system or None, temperature=0.5)
    got = built.data.split(b"\n")
    assert got[-1] == b"" and len(got) == len(a) + 1
    ids = make_custom_ids(df.index)
    for i, line in enumerate(got[:-1]):
        request = strict_loads(line)
        messages = [{"role": "system", "content": expected(system)}] if system else []
        messages.append({"role": "user", "content": expected(f"{literal}<{a[i]}|{b[i]}>")})
        assert request == {
            "custom_id": ids[i],
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "m", "messages": messages, "temperature": 0.5},
        }


@SETTINGS
@given(values=st.lists(clean_text, min_size=1, max_size=8))
def test_arrow_string_columns_round_trip(values):
    df = pd.DataFrame({"t": pd.Series(values, dtype="string[pyarrow]")})
    built = build_requests(df, model="m", prompt="{t}.", endpoint="completions")
    prompts = [strict_loads(line)["body"]["prompt"] for line in built.data.splitlines()]
    assert prompts == [v + "." for v in values]


@SETTINGS
@given(values=st.lists(text, min_size=1, max_size=6))
def test_callable_prompts_round_trip(values):
    df = pd.DataFrame({"t": pd.Series(values, dtype=object)})
    built = build_requests(
        df, model="m", prompt=lambda row: [{"role": "user", "content": row["t"], "name": "x"}]
    )
    got = [strict_loads(line)["body"]["messages"] for line in built.data.splitlines()]
    assert got == [[{"role": "user", "content": expected(v), "name": "x"}] for v in values]


@SETTINGS
@given(values=st.lists(clean_text, max_size=30), start=st.integers(0, 5))
def test_column_escaping_matches_a_json_encoder_byte_for_byte(values, start):
    arr = pa.array(values, pa.large_string()).cast(pa.large_binary()).slice(start)
    escaped = escape_array(arr).to_pylist()
    assert escaped == [orjson.dumps(v)[1:-1] for v in values[start:]]


@SETTINGS
@given(labels=st.lists(st.one_of(text, st.integers(), st.floats(allow_nan=False)), max_size=12))
def test_any_index_gets_unique_valid_ids(labels):
    index = pd.Index(labels, dtype=object)
    ids = make_custom_ids(index)
    assert len(ids) == len(labels) == len(set(ids))
    assert all(is_valid_custom_id(i) for i in ids)
    assert ids == make_custom_ids(pd.Index(labels, dtype=object))
