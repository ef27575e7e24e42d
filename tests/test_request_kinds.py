"""Structured output, tools, embeddings and bad input, end to end against the local server."""

from __future__ import annotations

from typing import Literal

import httpx
import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel

import dw_notebook as dw
from dw_notebook.datasets import sample_reviews
from dw_notebook.jsonl.requests import MissingColumnsError, MissingValuesError


class Review(BaseModel):
    sentiment: Literal["positive", "negative", "neutral"]
    stars: int
    mentions_delivery: bool


def test_structured_answers_become_typed_columns(conn):
    df = sample_reviews(60)
    job = dw.submit(df, "Classify: {review}", model="mock", response_format=Review, **conn)
    out = job.join(timeout=60)
    assert out["status"].eq("ok").all()
    assert isinstance(out["sentiment"].dtype, pd.CategoricalDtype)
    assert set(out["sentiment"].cat.categories) == {"positive", "negative", "neutral"}
    assert out["sentiment"].nunique() > 1
    assert pd.api.types.is_integer_dtype(out["stars"])
    assert pd.api.types.is_bool_dtype(out["mentions_delivery"])
    assert out["parse_error"].isna().all()


def test_tool_calls_are_extracted(conn):
    tools = [{"type": "function", "function": {
        "name": "record_label", "description": "Record a label",
        "parameters": {"type": "object", "properties": {"label": {"type": "string"}},
                       "required": ["label"]}}}]  # fmt: skip
    df = sample_reviews(10)
    job = dw.submit(df, "Label: {review}", model="mock", tools=tools, tool_choice="required",
                    **conn)  # fmt: skip
    out = job.join(timeout=60)
    assert out["status"].eq("ok").all()
    assert out["tool_name"].eq("record_label").all()
    assert all(isinstance(a, dict) and "label" in a for a in out["tool_arguments"])


def test_embeddings_come_back_as_vectors_per_row(conn):
    df = sample_reviews(20)
    job = dw.submit(df, model="mock", endpoint="embeddings", input_column="review", **conn)
    out = job.join(timeout=60)
    assert out["status"].eq("ok").all()
    vectors = np.stack(out["embedding"].to_list())
    assert vectors.shape[0] == 20 and vectors.shape[1] > 1
    # same text, same vector; different text, different vector
    again = dw.submit(df.iloc[:3], model="mock", endpoint="embeddings", input_column="review",
                      **conn).join(timeout=60)  # fmt: skip
    np.testing.assert_allclose(np.stack(again["embedding"].to_list()), vectors[:3])
    assert not np.allclose(vectors[0], vectors[1]) or df["review"].iloc[0] == df["review"].iloc[1]


def _uploaded(server) -> list:
    headers = {"Authorization": f"Bearer {server.token}"}
    return httpx.get(f"{server.base_url}/files", headers=headers).json()["data"]


def test_missing_column_names_it_and_uploads_nothing(conn, server):
    df = sample_reviews(5)
    with pytest.raises(MissingColumnsError, match="revew"):
        dw.submit(df, "Sentiment: {revew}", model="mock", **conn)
    assert _uploaded(server) == []


def test_missing_values_name_the_rows_and_the_fix(conn, server):
    df = sample_reviews(6)
    df.loc[["r00001", "r00004"], "review"] = None
    with pytest.raises(MissingValuesError) as caught:
        dw.submit(df, "Sentiment: {review}", model="mock", **conn)
    message = str(caught.value)
    assert "r00001" in message and "r00004" in message and "missing=" in message
    assert _uploaded(server) == []

    out = dw.submit(df, "Sentiment: {review}", model="mock", missing="skip", **conn).join(
        timeout=60
    )
    assert out.loc[["r00001", "r00004"], "status"].eq("skipped").all()
    assert out["status"].eq("ok").sum() == 4
