"""Disk is freed on request or by a retention setting, never from under a running batch; the
default pace fits the job."""

from __future__ import annotations

import argparse

import pytest
from server_support import Api, chat_line, wait_until

from dw_notebook.server.cli import duration


def _stored(api: Api) -> set[str]:
    return {p.name for p in api.srv.data_dir.glob("files/*")} | {
        p.name for p in api.srv.data_dir.glob("*.jsonl")
    }


def _file_ids(api: Api) -> set[str]:
    return {f["id"] for f in api.http.get("/files", params={"limit": 100}).json()["data"]}


def test_cleanup_frees_finished_batches_and_unused_files_but_not_a_running_batch(make_api):
    api = make_api(rate=5.0)
    done = api.submit([chat_line(i) for i in range(3)])
    done = api.wait(done["id"])
    spare = api.upload([chat_line(0)]).json()["id"]
    running = api.submit([chat_line(i) for i in range(200)])
    api.wait(running["id"], {"in_progress"})
    before = _file_ids(api)
    assert {done["input_file_id"], done["output_file_id"], spare} <= before

    cleaned = api.srv.cleanup()

    assert cleaned.batches == 1 and cleaned.bytes > 0
    assert api.http.get(f"/batches/{done['id']}").status_code == 404
    left = _file_ids(api)
    assert not left & {done["input_file_id"], done["output_file_id"], spare}
    assert running["input_file_id"] in left
    for file_id in (done["input_file_id"], done["output_file_id"], spare):
        assert not api.srv.runner.life.files.path(file_id).exists()
    assert api.batch(running["id"])["status"] == "in_progress"
    api.http.post(f"/batches/{running['id']}/cancel")
    assert api.wait(running["id"])["status"] == "cancelled"


def test_cleanup_keeps_what_is_younger_than_the_cut_off(make_api):
    api = make_api()
    batch = api.wait(api.submit([chat_line(0)])["id"])
    assert api.srv.cleanup(older_than=3600).batches == 0
    assert api.batch(batch["id"])["status"] == "completed"
    api.srv.clock.advance(2 * 3600)
    assert api.srv.cleanup(older_than=3600).batches == 1


def test_retention_runs_by_itself(make_api):
    api = make_api(retention=0.0)
    api.srv.runner.cleanup_every = 0.05
    batch = api.wait(api.submit([chat_line(0)])["id"])
    wait_until(
        lambda: api.http.get(f"/batches/{batch['id']}").status_code == 404,
        what="the finished batch to be removed by retention",
    )
    assert batch["input_file_id"] not in _file_ids(api)


@pytest.mark.parametrize(("rows", "pace"), [(300, 50.0), (6000, 100.0)])
def test_auto_pace_is_watchable_for_demos_and_about_a_minute_for_large_jobs(make_api, rows, pace):
    api = make_api(rate="auto")
    batch = api.submit([chat_line(i) for i in range(rows)])
    wait_until(lambda: api.batch(batch["id"])["request_counts"]["completed"] > 0)
    assert api.srv.runner.rate == pace
    api.http.post(f"/batches/{batch['id']}/cancel")


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800),
                                               ("12h", 43200), ("7d", 604800)])  # fmt: skip
def test_retention_durations(text, seconds):
    assert duration(text) == seconds


def test_a_bad_retention_says_how_to_write_one():
    with pytest.raises(argparse.ArgumentTypeError, match="e.g. 7d"):
        duration("a week")
