"""Small pieces of the job layer: phase of several batches, widget commands, the local lock."""

from __future__ import annotations

import subprocess
import sys
import time
import types
from dataclasses import replace

import pytest

import dw_notebook as dw
from dw_notebook.client import BatchClient
from dw_notebook.datasets import sample_reviews
from dw_notebook.job import aggregate_phase


@pytest.mark.parametrize(
    ("statuses", "phase"),
    [
        ([], "submitting"),
        (["completed", "in_progress"], "in_progress"),
        (["finalizing", "validating"], "validating"),
        (["completed", "completed"], "completed"),
        (["completed", "failed"], "failed"),
        (["expired", "failed", "completed"], "expired"),
        (["cancelled", "expired"], "cancelled"),
    ],
)
def test_the_phase_of_a_split_job_is_its_least_advanced_or_worst_batch(statuses, phase):
    assert aggregate_phase(statuses) == phase


def test_widget_commands_cancel_and_report_failures_instead_of_raising(make_server):
    srv = make_server(rate=20.0)
    job = dw.submit(sample_reviews(100), "Sentiment: {review}", model="mock",
                    api_key=srv.token, base_url=srv.base_url)  # fmt: skip
    job.handle_command("cancel")
    deadline = time.monotonic() + 30
    while not job.refresh().done and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.snapshot().phase == "cancelled"

    srv.stop()  # the service goes away: a refresh click must not raise in the kernel
    job._client.max_retries = 0
    job._tracker.batches.clear()
    job.handle_command("refresh")
    assert job.snapshot().poll_error


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_cancelling_a_finished_job_leaves_its_batches_as_they_ended(make_server):
    srv = make_server()
    job = dw.submit(sample_reviews(5), "Sentiment: {review}", model="mock",
                    api_key=srv.token, base_url=srv.base_url)  # fmt: skip
    job.join(timeout=30)
    job.cancel()  # Doubleword would relabel an ended batch "cancelled" if asked
    with BatchClient(srv.base_url, srv.token) as client:
        assert [client.get_batch(b)["status"] for b in job.batch_ids] == ["completed"]
    assert job.snapshot().phase == "completed"


HOLDER = """
import sys, time, dw_notebook as dw
dw.local()
print("HOLDING", flush=True)
time.sleep(30)
"""


LOCK_ONLY = """
import fcntl, os, sys, time
path = os.path.join(os.environ["DW_NOTEBOOK_HOME"], "local-server")
os.makedirs(path, exist_ok=True)
held = open(os.path.join(path, ".lock"), "w")
fcntl.flock(held, fcntl.LOCK_EX)
print("HOLDING", flush=True)
time.sleep(30)
"""


def test_a_second_process_uses_the_first_ones_server_while_it_holds_the_dir(isolated_home):
    from dw_notebook.local import SharedServer

    holder = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().startswith("HOLDING")
        srv = dw.local()
        assert isinstance(srv, SharedServer) and srv.pid == holder.pid
        assert srv.data_dir == isolated_home / "local-server"
    finally:
        dw.stop_local()
        holder.kill()
        holder.wait()
        holder.stdout.close()
        holder.stdout.close()
    try:
        assert dw.local().data_dir == isolated_home / "local-server"  # free again
    finally:
        dw.stop_local()


def test_cleanup_through_another_processes_server_frees_its_finished_batches(isolated_home):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().startswith("HOLDING")
        job = dw.submit(sample_reviews(5), "Sentiment: {review}", model="mock").wait()
        batch = job._client.get_batch(job.batch_ids[0])
        files = {batch[k] for k in ("input_file_id", "output_file_id", "error_file_id")} - {None}
        cleaned = dw.local().cleanup()  # the other process's server, over HTTP
        assert (cleaned.batches, cleaned.files) == (1, len(files))
        assert cleaned.bytes > 0
        with pytest.raises(dw.APIError, match="404"):
            job._client.get_batch(job.batch_ids[0])
    finally:
        dw.stop_local()
        holder.kill()
        holder.wait()
        holder.stdout.close()


def test_a_poll_at_clock_zero_still_counts_as_a_successful_poll(server, monkeypatch):
    # "no successful poll yet" is None, not a falsy timestamp: a clock that reads 0.0 (a fake
    # one, or any clock with a different origin) must still give the age of the last update
    job = dw.submit(sample_reviews(5), "Sentiment: {review}", model="mock",
                    api_key=server.token, base_url=server.base_url).wait_submitted()  # fmt: skip
    fake_time = types.SimpleNamespace(time=lambda: 0.0, monotonic=time.monotonic, sleep=time.sleep)
    monkeypatch.setattr("dw_notebook.job.tracking.time", fake_time)
    job._tracker.batches.clear()
    assert job.refresh().last_update_age_s == 0.0


def test_stopping_the_local_server_closes_the_cached_clients_that_pointed_at_it(server):
    from dw_notebook.client import _clients, client_for
    from dw_notebook.config import Connection
    from dw_notebook.local import local_connection

    try:
        local_client = client_for(local_connection())
        local_client.list_models()
        other = client_for(Connection(server.base_url, server.token))
    finally:
        dw.stop_local()
    assert local_client._http.is_closed and list(_clients.values()) == [other]
    assert not other._http.is_closed


def test_a_second_process_whose_holder_has_no_server_gets_a_temporary_one(isolated_home):
    holder = subprocess.Popen([sys.executable, "-c", LOCK_ONLY], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().startswith("HOLDING")
        with pytest.warns(UserWarning, match="starting a temporary server"):
            srv = dw.local()
        assert srv.data_dir != isolated_home / "local-server"
    finally:
        dw.stop_local()
        holder.kill()
        holder.wait()
        holder.stdout.close()


def test_send_progress_names_the_step_under_way():
    from dw_notebook.job.sending import SendProgress
    from dw_notebook.progress.text import sending_text

    progress = SendProgress(rows=30)
    progress.uploading({0: 100, 1: 50}, batches=2)  # each batch created after its upload
    progress.uploaded(0, 100)
    progress.created()
    assert progress.snapshot().phase == "uploading"
    assert sending_text(progress.snapshot()).endswith("· 1 / 2 batches created")
    progress.uploaded(1, 50)  # every file is there: the last create is under way
    assert progress.snapshot().phase == "creating"

    resumed = SendProgress(rows=30)
    resumed.uploading({}, batches=3)  # the files were uploaded before a restart
    assert sending_text(resumed.snapshot()) == "0 / 3 batches created"


def _batch(status: str, created: int, done: int, failed: int, total: int, **times: int) -> dict:
    return {"status": status, "created_at": created, **times,
            "request_counts": {"total": total, "completed": done, "failed": failed}}  # fmt: skip


def test_a_retry_has_no_rate_before_its_first_row_ends_and_the_job_times_every_attempt():
    from dw_notebook.job.tracking import Tracker

    tracker = Tracker(name="j", spec={"n_requests": 10, "model": "mock"}, simulated=True)
    tracker.batches = {
        "b0": _batch("completed", 1000, 8, 2, 10, completed_at=1010),
        "b1": _batch("in_progress", 1100, 0, 0, 2),
    }
    tracker._history.extend([(1.0, 0), (5.0, 10)])  # the first attempt's pace
    running = tracker.snapshot([["b0"], ["b1"]], estimated_cost=None)
    assert running.throughput is None and running.eta_s is None

    tracker.batches["b1"] = _batch("completed", 1100, 2, 0, 2, completed_at=1105)
    ended = tracker.snapshot([["b0"], ["b1"]], estimated_cost=None)
    assert ended.elapsed_s == 105  # the first create to the last end, not the retry's 5 s
    assert [a.elapsed_s for a in ended.attempts] == [10, 5]
    assert ended.for_attempt(1).elapsed_s == 5 and ended.for_attempt(1).name == "j · retry 1"
    pilot = replace(
        ended, pilot={"n": 1}, attempts=(*ended.attempts, replace(ended.attempts[1], attempt=2))
    )
    assert pilot.for_attempt(2).name == "j · retry 1"  # after a pilot and its rest: as its phase


def test_retry_selects_unparsed_rows_only_when_cut_off_as_before_the_status_existed():
    import pandas as pd

    from dw_notebook.job.retry import ids_to_retry

    out = pd.DataFrame({
        "status": ["unparsed", "unparsed", "ok", "failed", "ok"],
        "finish_reason": ["length", "stop", "length", None, "stop"],
    })  # fmt: skip
    ids = ["cut", "misfit", "long", "failed", "fine"]
    assert ids_to_retry(out, ids, truncated=True) == {"cut", "long", "failed"}
    assert ids_to_retry(out, ids, truncated=False) == {"failed"}  # the same answer again: no
