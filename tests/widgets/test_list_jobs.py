"""``dw.list_jobs()``: datetimes, integer counts, one set of columns, and no invented figures
for batches the service cannot show."""

from __future__ import annotations

import pandas as pd
import pytest

import dw_notebook as dw
from dw_notebook.datasets import sample_reviews
from dw_notebook.job.listing import COLUMNS
from dw_notebook.job.registry import Registry

PROMPT = "Sentiment of this review, one word: {review}"


def test_columns_and_dtypes_are_the_same_whatever_is_asked(conn, tmp_path):
    job = dw.submit(sample_reviews(8), prompt=PROMPT, model="mock", **conn)
    job.join(timeout=30)
    with_service = dw.list_jobs(**conn)
    registry_only = dw.list_jobs(**conn, server=False)
    empty = dw.list_jobs(server=False, registry=Registry(tmp_path / "empty.sqlite3"))
    for frame in (with_service, registry_only, empty):
        assert tuple(frame.columns) == COLUMNS
        assert isinstance(frame["created_at"].dtype, pd.DatetimeTZDtype)
        for column in ("attempt", "chunk", "total", "completed", "failed"):
            assert frame[column].dtype == "Int64", column
    row = with_service.iloc[0]
    assert (row["job"], row["total"], row["completed"], row["where"]) == (
        job.name, 8, 8, "on the service",
    )  # fmt: skip
    assert row["created_at"].year >= 2024
    assert registry_only.iloc[0]["where"] == "not checked"
    assert registry_only["total"].isna().all()  # not asked: unknown, not 0


def test_a_recorded_batch_the_service_does_not_know_says_so(conn, server):
    registry = Registry()
    key = server.base_url.rstrip("/")
    job_id = registry.new_job("fp", key, "elsewhere", {"model": "mock"})
    registry.record_batch(job_id, 0, 0, "batch_made_by_another_server", "in_progress")
    frame = dw.list_jobs(**conn, registry=registry)
    row = frame.set_index("batch_id").loc["batch_made_by_another_server"]
    assert row["where"] == "not found on the service"
    assert row["status"] == "in_progress"  # the last status recorded, not a guess
    assert pd.isna(row["completed"]) and pd.isna(row["total"])


@pytest.mark.parametrize("dialect", ["doubleword"], indirect=True)
def test_an_unreachable_service_marks_rows_instead_of_inventing_counts(conn, server):
    job = dw.submit(sample_reviews(4), prompt=PROMPT, model="mock", **conn)
    job.join(timeout=30)
    server.stop()
    with pytest.warns(UserWarning, match="could not list"):
        frame = dw.list_jobs(**conn)
    assert frame["where"].tolist() == ["service unreachable"]
    assert frame["completed"].isna().all()


def test_dashboard_shows_one_row_per_job_and_never_invents_counts(conn, server):
    from dw_notebook.ui import job_rows

    split = dw.submit(sample_reviews(30), prompt=PROMPT, model="mock", name="split",
                      max_requests=10, **conn)  # fmt: skip
    split.join(timeout=30)
    assert len(split.batch_ids) == 3
    registry = Registry()
    key = server.base_url.rstrip("/")
    lost = registry.new_job("fp-lost", key, "elsewhere", {"model": "mock"})
    registry.record_batch(lost, 0, 0, "batch_made_by_another_server", "in_progress")
    rows = {r["name"]: r for r in job_rows(dw.list_jobs(**conn, registry=registry))}
    assert set(rows) == {"split", "elsewhere"}
    assert (rows["split"]["total"], rows["split"]["completed"]) == (30, 30)
    assert [b["id"] for b in rows["split"]["batches"]] == split.batch_ids
    assert rows["split"]["duration_s"] >= 0 and rows["split"]["cost_note"] == "n/a (simulated)"
    away = rows["elsewhere"]
    assert away["status"] == "unknown" and away["where"] == "not found on the service"
    assert away["completed"] is None and away["cancellable"] is False

    dash = dw.jobs(auto_refresh=None, registry=registry, **conn)
    try:
        html = dash._repr_mimebundle_()[0]["text/html"]
        assert "not found on the service" in html and "30 / 30 done" in html
    finally:
        dash.close()
