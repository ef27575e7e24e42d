"""Validation before anything is sent: every error names the rows and says how to fix it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dw_notebook.jsonl.requests import (
    BuildError,
    CustomIdError,
    EmptyPromptError,
    InvalidTextError,
    LineTooLargeError,
    MissingColumnsError,
    MissingValuesError,
    build_requests,
)


def test_missing_template_column_is_named_with_a_suggestion():
    df = pd.DataFrame({"review": ["a"], "title": ["t"]})
    with pytest.raises(MissingColumnsError) as info:
        build_requests(df, model="m", prompt="{reveiw} {title} {nope}")
    err = info.value
    assert err.columns == ["reveiw", "nope"]
    assert "did you mean 'review'" in str(err)
    assert "Fix:" in str(err)


def test_nan_in_a_used_column_lists_the_row_labels_and_the_fix():
    df = pd.DataFrame({"review": ["a", None, "c", np.nan, "e"]}, index=[4, 17, 5, 99, 6])
    with pytest.raises(MissingValuesError) as info:
        build_requests(df, model="m", prompt="{review}")
    err = info.value
    assert err.rows == [17, 99]
    assert str(err).startswith("2 rows have NaN/None in column 'review' (rows 17, 99).")
    assert "df['review'].fillna('')" in str(err)
    assert "missing='skip'" in str(err) and "missing='empty'" in str(err)
    assert isinstance(err, ValueError) and isinstance(err, BuildError)


def test_missing_values_across_columns_name_every_column_and_row_once():
    df = pd.DataFrame({"a": ["x", None, "z"], "b": [None, None, "q"], "c": [None] * 3})
    with pytest.raises(MissingValuesError) as info:
        build_requests(df, model="m", prompt="{a}{b}")  # column c is not used
    assert info.value.rows == [0, 1]
    assert info.value.columns == ["a", "b"]


def test_long_row_lists_are_shortened_in_the_message():
    df = pd.DataFrame({"t": [None] * 12})
    with pytest.raises(MissingValuesError, match=r"rows 0, 1, 2, 3, 4, \.\.\. \(7 more\)") as info:
        build_requests(df, model="m", prompt="{t}")
    assert info.value.rows == list(range(12))


def test_string_labels_are_quoted_in_messages():
    df = pd.DataFrame({"t": [None]}, index=["row-a"])
    with pytest.raises(MissingValuesError, match=r"\(row 'row-a'\)"):
        build_requests(df, model="m", prompt="{t}")


def test_empty_prompts_are_refused_with_their_rows():
    df = pd.DataFrame({"t": ["fine", "", "  \n", "ok"]}, index=list("abcd"))
    with pytest.raises(EmptyPromptError) as info:
        build_requests(df, model="m", prompt="{t}")
    assert info.value.rows == ["b", "c"]


def test_a_blank_template_without_placeholders_is_an_empty_prompt():
    df = pd.DataFrame({"t": ["a", "b"]})
    with pytest.raises(EmptyPromptError) as info:
        build_requests(df, model="m", prompt="  ")
    assert info.value.rows == [0, 1]


def test_missing_empty_that_leaves_nothing_to_send_is_an_empty_prompt():
    df = pd.DataFrame({"t": ["fine", None]}, index=["x", "y"])
    with pytest.raises(EmptyPromptError) as info:
        build_requests(df, model="m", prompt="{t}", missing="empty")
    assert info.value.rows == ["y"]


def test_template_text_around_an_empty_cell_is_not_an_empty_prompt():
    df = pd.DataFrame({"t": [""]})
    built = build_requests(df, model="m", prompt="Review: {t}")
    assert built.n == 1


def test_lines_over_the_size_limit_name_their_rows():
    df = pd.DataFrame({"t": ["short", "x" * 5000, "y" * 10]}, index=["a", "b", "c"])
    with pytest.raises(LineTooLargeError) as info:
        build_requests(df, model="m", prompt="{t}", max_line_bytes=1000)
    assert info.value.rows == ["b"]
    assert "1,000-byte limit" in str(info.value)


def test_lines_over_the_limit_after_skipping_name_the_right_rows():
    df = pd.DataFrame({"t": [None, "x" * 5000]}, index=["a", "b"])
    with pytest.raises(LineTooLargeError) as info:
        build_requests(df, model="m", prompt="{t}", missing="skip", max_line_bytes=1000)
    assert info.value.rows == ["b"]


def test_duplicate_ids_in_id_column_are_refused():
    df = pd.DataFrame({"t": ["a", "b", "c"], "key": ["k", "j", "k"]}, index=[7, 8, 9])
    with pytest.raises(CustomIdError, match="more than once") as info:
        build_requests(df, model="m", prompt="{t}", id_column="key")
    assert info.value.rows == [9]


def test_unusable_ids_in_id_column_are_refused():
    df = pd.DataFrame({"t": ["a", "b", "c"], "key": ["ok", "é", "x" * 65]})
    with pytest.raises(CustomIdError, match="printable ASCII") as info:
        build_requests(df, model="m", prompt="{t}", id_column="key")
    assert info.value.rows == [1, 2]


def test_prompt_callable_returning_junk_names_the_rows():
    df = pd.DataFrame({"t": ["a", "b", "c"]}, index=["x", "y", "z"])

    def prompt(row):
        return [{"content": "no role"}] if row["t"] == "b" else row["t"]

    with pytest.raises(InvalidTextError) as info:
        build_requests(df, model="m", prompt=prompt)
    assert info.value.rows == ["y"]


def test_prompt_callable_exception_names_the_row():
    df = pd.DataFrame({"t": ["a", "b"]}, index=["x", "y"])

    def prompt(row):
        if row["t"] == "b":
            raise KeyError("boom")
        return "fine"

    with pytest.raises(BuildError, match="failed on row 'y'"):
        build_requests(df, model="m", prompt=prompt)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"prompt": "{t}", "stream": True}, "stream=True"),
        ({"prompt": "{t}", "messages": []}, "cannot be passed"),
        ({"prompt": "{t}", "endpoint": "images"}, "Unknown endpoint"),
        ({"prompt": "{t}", "missing": "drop"}, "missing='drop'"),
        ({}, "Nothing to send"),
        ({"prompt": "{t}", "input_column": "t"}, "either prompt= or input_column="),
        ({"prompt": "{t:>10}"}, "not supported"),
        ({"prompt": "{}"}, "not supported"),
        ({"prompt": "{t"}, "not valid"),
        ({"input_column": "t", "endpoint": "embeddings", "system": "s"}, "chat endpoint only"),
        ({"prompt": "{t}", "response_format": 42}, "pydantic model class or a JSON schema"),
        ({"prompt": "{t}", "response_format": {"type": "string"}}, "object"),
        ({"prompt": "{t}", "examples": [{"content": "x"}]}, "examples must be"),
    ],
)
def test_bad_arguments_are_refused_with_a_fix(kwargs, message):
    df = pd.DataFrame({"t": ["a"]})
    with pytest.raises(BuildError, match=message):
        build_requests(df, model="m", **kwargs)


def test_model_is_required():
    with pytest.raises(BuildError, match="model must be"):
        build_requests(pd.DataFrame({"t": ["a"]}), model="", prompt="{t}")


def test_not_a_dataframe_is_a_type_error():
    with pytest.raises(TypeError, match="DataFrame"):
        build_requests([{"t": "a"}], model="m", prompt="{t}")
