"""Bad input a new user tries first: each gets a message that names the rows or the option and
the fix (exact texts), or works (odd indexes); nothing names an internal function."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

import dw_notebook as dw
from dw_notebook.jsonl.requests import BuildError
from dw_notebook.jsonl.requests._ids import is_valid_custom_id

PROMPT = "Sentiment: {review}"


def _df(**columns):
    return pd.DataFrame(columns or {"review": ["good", "bad"]})


def test_duplicate_column_names_are_named_with_the_fix():
    df = pd.DataFrame([["a", "b"], ["c", "d"]], columns=["review", "review"])
    with pytest.raises(BuildError) as bad:
        dw.prepare(df, PROMPT, model="mock")
    assert str(bad.value) == (
        "the DataFrame has more than one column named 'review'; a prompt cannot tell them apart "
        "and the result columns could not be joined. Fix: rename them (df.columns = [...]) or "
        "keep the first: df = df.loc[:, ~df.columns.duplicated()]."
    )


def test_a_line_over_max_bytes_names_the_row_label():
    df = pd.DataFrame({"review": ["short", "long " * 100]}, index=["small", "big"])
    with pytest.raises(BuildError) as bad:
        dw.submit(df, PROMPT, model="mock", max_bytes=300,
                  api_key="k", base_url="http://127.0.0.1:9/v1")  # fmt: skip
    assert str(bad.value).startswith(
        "1 row produces a request line over the 299-byte limit (row 'big'; largest "
    )
    assert str(bad.value).endswith(
        "bytes). Fix: shorten those texts (e.g. df[col].str.slice(0, 100_000)) or drop the rows."
    )


def test_a_tz_aware_datetime_index_gives_exact_ids():
    df = _df()
    df.index = pd.date_range("2024-03-31 00:30", periods=2, freq="h", tz="Europe/Paris")
    built = dw.prepare(df, PROMPT, model="mock")
    assert built.custom_ids == ["2024-03-31T00:30:00+01:00", "2024-03-31T01:30:00+01:00"]


def test_a_multiindex_gives_exact_ids():
    df = _df()
    df.index = pd.MultiIndex.from_tuples([("shop", 1), ("shop", 2)])
    assert dw.prepare(df, PROMPT, model="mock").custom_ids == ["shop|1", "shop|2"]


def test_ids_over_64_characters_are_derived_or_refused_with_the_rows():
    df = _df()
    df.index = ["x" * 65, "y" * 65]
    ids = dw.prepare(df, PROMPT, model="mock").custom_ids
    assert len(set(ids)) == 2 and all(is_valid_custom_id(i) and "x" * 10 not in i for i in ids)
    df["id"] = df.index
    with pytest.raises(BuildError) as bad:
        dw.prepare(df, PROMPT, model="mock", id_column="id")
    assert str(bad.value) == (
        f"2 rows have an unusable custom id: not 1-64 printable ASCII characters (rows "
        f"'{'x' * 65}', '{'y' * 65}'). Fix: use a column of unique ids of at most 64 printable "
        "ASCII characters, or leave id_column=None to derive ids from the index."
    )


def test_a_template_naming_a_missing_column():
    with pytest.raises(BuildError) as bad:
        dw.prepare(_df(), "Sentiment: {reveiw}", model="mock")
    assert str(bad.value) == (
        "The prompt uses 1 column the DataFrame does not have: 'reveiw'. Available columns: "
        "'review'. 'reveiw' -> did you mean 'review'? Fix: rename the placeholder, or write a "
        "literal brace as '{{' / '}}'."
    )


def test_an_unknown_body_option_is_warned_with_the_closest_name():
    with pytest.warns(UserWarning) as caught:
        built = dw.prepare(_df(), PROMPT, model="mock", max_token=5)
    assert [str(w.message) for w in caught] == [
        "max_token= is not a known option of /v1/chat/completions; it is sent in the body as "
        "is. did you mean max_tokens=? (Servers may accept extras; check its name if this one "
        "is a typo.)"
    ]
    assert built.preview(1)[0]["body"]["max_token"] == 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dw.prepare(_df(), PROMPT, model="mock", max_tokens=5, temperature=0, top_k=3)


def test_a_series_instead_of_a_dataframe_suggests_to_frame():
    with pytest.raises(TypeError) as bad:
        dw.prepare(_df()["review"], PROMPT, model="mock")
    assert str(bad.value) == (
        "expected a pandas DataFrame, got a Series. Fix: pass series.to_frame() (its column is "
        "then named 'review', so the prompt says {review})."
    )


def test_messages_never_name_internal_functions():
    with pytest.raises(BuildError) as bad:
        dw.prepare(_df(), PROMPT)
    assert str(bad.value) == "prepare() needs model=, e.g. dw.prepare(df, prompt, model='mock')."
    assert "build_requests" not in str(bad.value)
