"""Ids survive a reorder: attach with the frame sorted, filtered or widened joins the same rows;
with another frame it raises with the count of matching rows and the fix."""

from __future__ import annotations

import pandas as pd
import pytest

import dw_notebook as dw
from dw_notebook.errors import JobError

COLUMNS = ["content", "status", "error"]


def _frame() -> pd.DataFrame:
    labels = [f"r{i:02d}" for i in range(30)]
    labels[3] = "x" * 70  # too long to be an id: only this row gets a derived id
    labels[5] = labels[6] = labels[7] = "dup"  # duplicated labels
    texts = [f"review number {i}" for i in range(30)]
    texts[7] = texts[6]  # two identical rows: told apart by their order among themselves
    return pd.DataFrame({"review": texts, "stars": range(30)}, index=labels)


@pytest.fixture
def submitted(server, conn):
    df = _frame()
    job = dw.submit(df, "Sentiment of: {review}", model="mock", name="reorder", **conn)
    out = job.join(timeout=30)
    assert out["status"].eq("ok").all()
    return df, out


def _same(joined: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        joined[COLUMNS].reset_index(drop=True), expected[COLUMNS].reset_index(drop=True)
    )


def test_attach_with_the_frame_sorted_joins_the_same_rows(submitted, conn):
    df, out = submitted
    order = df.assign(n=range(len(df))).sort_values("review", ascending=False)["n"].to_numpy()
    job = dw.attach("reorder", df.iloc[order], **conn)
    _same(job.join(timeout=30), out.iloc[order])


def test_attach_with_the_frame_filtered_or_widened_joins_the_same_rows(submitted, conn):
    df, out = submitted
    keep = [0, 3, 5, 7, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25]
    job = dw.attach("reorder", df.iloc[keep], **conn)
    _same(job.join(timeout=30), out.iloc[keep])
    wide = df.assign(extra="new column")
    _same(dw.attach("reorder", wide, **conn).join(timeout=30), out)


def test_attach_with_another_frame_raises_with_the_count_and_the_fix(submitted, conn):
    other = pd.DataFrame({"review": [f"something else {i}" for i in range(10)]},
                         index=[f"q{i}" for i in range(10)])  # fmt: skip
    with pytest.raises(JobError) as raised:
        dw.attach("reorder", other, **conn)
    text = str(raised.value)
    assert "Only 0 of the 10 rows of this DataFrame match the 30 requests" in text
    assert "id_column=" in text


def test_id_column_rows_survive_a_sort_on_attach(server, conn):
    df = _frame().assign(key=[f"id-{i}" for i in range(30)]).reset_index(drop=True)
    job = dw.submit(df, "Sentiment of: {review}", model="mock", name="keyed", id_column="key",
                    **conn)  # fmt: skip
    out = job.join(timeout=30)
    shuffled = df.sample(frac=1.0, random_state=1).reset_index(drop=True)  # a new index too
    joined = dw.attach("keyed", shuffled, **conn).join(timeout=30)
    expected = out.set_index("key").loc[shuffled["key"]]
    _same(joined, expected)


def test_join_refuses_another_frame_when_the_input_files_are_gone(submitted, server, conn):
    from dw_notebook.client import BatchClient

    job = dw.attach("reorder", _frame(), **conn)
    with BatchClient(server.base_url, server.token) as client:
        for batch_id in job.batch_ids:
            client.delete_file(client.get_batch(batch_id)["input_file_id"])
    other = pd.DataFrame({"review": ["x"] * 10}, index=[f"q{i}" for i in range(10)])
    attached = dw.attach("reorder", other, **conn)  # nothing to check the rows against yet
    with pytest.raises(JobError, match="Only 0 of the 10 rows of this DataFrame match result"):
        with pytest.warns(UserWarning, match="None of the 30 result lines matched"):
            attached.join(timeout=30)
