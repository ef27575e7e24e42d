"""Property: the Arrow fast path and the per-line parser give the same joined frame.

The per-line parser is the reference (plain orjson per line, checks written out in Python); the
fast path must agree on every column for any mix of answers, failures, duplicates, odd answer
text and malformed lines.
"""

from __future__ import annotations

import warnings

import orjson
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dw_notebook.jsonl.results._answers as answers
import dw_notebook.jsonl.results._table as result_lines
from dw_notebook.jsonl.requests import make_custom_ids
from dw_notebook.jsonl.results import join_results

from .result_lines import completion, failure, http_error, ok

IDS = make_custom_ids(pd.RangeIndex(8))
FRAME = pd.DataFrame({"x": range(8)})
SCHEMA = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": ["a", "b"]},
        "score": {"type": ["number", "null"]},
        "n": {"type": "integer"},
    },
    "required": ["label", "score", "n"],
}

text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12)
answer_values = st.fixed_dictionaries(
    {},
    optional={
        "label": st.one_of(st.sampled_from(["a", "b", "c"]), st.integers(-9, 9), st.none()),
        "score": st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.none(), text),
        "n": st.one_of(
            st.integers(-(2**63), 2**63 - 1), st.floats(-1e20, 1e20), st.booleans(), st.none()
        ),
        "extra": text,
    },
)
answer_text = st.one_of(
    answer_values.map(lambda d: orjson.dumps(d).decode()),
    answer_values.map(lambda d: orjson.dumps(d, option=orjson.OPT_INDENT_2).decode()),
    text,
    st.just(""),
    st.just("[1, 2]"),
)
cid = st.sampled_from([*IDS, "stranger"])
line = st.one_of(
    st.builds(
        lambda c, a, f: orjson.dumps(ok(c, a, finish=f)),
        cid,
        answer_text,
        st.sampled_from(["stop", "length"]),
    ),
    st.builds(
        lambda c, s, code, m: orjson.dumps(http_error(c, s, code, m)),
        cid,
        st.sampled_from([400, 404, 429, 500]),
        st.one_of(st.none(), text),
        text,
    ),
    st.builds(
        lambda c, code, m: orjson.dumps(failure(c, code, m)),
        cid,
        st.sampled_from(["batch_expired", "batch_cancelled", "server_error"]),
        text,
    ),
    st.builds(lambda c, t: orjson.dumps(completion(c, t)), cid, text),
    st.sampled_from([b"{broken", b'{"custom_id": 1}', b'{"custom_id": "0"}', b"[]"]),
)
files = st.lists(
    st.lists(line, max_size=12).map(lambda ls: b"\n".join(ls) + b"\n"), min_size=1, max_size=3
)


def _join(fast: bool, outputs: list[bytes]) -> pd.DataFrame:
    """Join with the Arrow paths (lines and answers) on, or forced off."""
    saved = result_lines._FAST_MIN_BYTES, answers._answers_by_column
    result_lines._FAST_MIN_BYTES = 0 if fast else 10**12
    if not fast:
        answers._answers_by_column = lambda *args: None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pieces = [(f"b{i}", o) for i, o in enumerate(outputs)]
            return join_results(FRAME, IDS, outputs=pieces, schema=SCHEMA)
    finally:
        result_lines._FAST_MIN_BYTES, answers._answers_by_column = saved


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(outputs=files)
def test_fast_path_agrees_with_the_per_line_parser(outputs):
    reference = _join(False, outputs)
    fast = _join(True, outputs)
    pd.testing.assert_frame_equal(reference, fast)
    for key in ("dw_malformed_count", "dw_malformed_lines", "dw_unmatched_ids"):
        assert reference.attrs[key] == fast.attrs[key]
