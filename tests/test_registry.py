"""The local registry: ids recorded at once, found by any handle, kept across processes."""

from __future__ import annotations

import subprocess
import sys

from dw_notebook.job.registry import Registry


def test_jobs_are_found_by_id_name_or_any_batch_id(tmp_path):
    reg = Registry(tmp_path / "r.sqlite3")
    job_id = reg.new_job("fp1", "local", "reviews", {"model": "m"})
    reg.record_file(job_id, 0, 0, "file-a")
    reg.record_batch(job_id, 0, 0, "batch-a", "validating")
    reg.record_batch(job_id, 1, 0, "batch-retry", "validating")
    for key in (job_id, "reviews", "batch-a", "batch-retry"):
        found = reg.find(key)
        assert found is not None and found.job_id == job_id, key
    record = reg.find("reviews")
    assert [(b.attempt, b.batch_id) for b in record.batches] == [(0, "batch-a"), (1, "batch-retry")]
    assert record.batches[0].input_file_id == "file-a"
    assert reg.find("nothing") is None


def test_a_forced_resubmit_supersedes_the_fingerprint_but_keeps_the_old_job(tmp_path):
    reg = Registry(tmp_path / "r.sqlite3")
    first = reg.new_job("fp", "local", "a", {})
    second = reg.new_job("fp", "local", "a", {})
    assert reg.find_by_fingerprint("fp", "local").job_id == second
    assert reg.find(first).job_id == first
    assert reg.find_by_fingerprint("fp", "https://api.example/v1") is None


def test_records_survive_the_process_that_wrote_them(tmp_path):
    path = tmp_path / "r.sqlite3"
    code = (
        "from dw_notebook.job.registry import Registry;"
        f"r = Registry({str(path)!r}); j = r.new_job('fp', 'svc', 'n', {{}});"
        "r.record_batch(j, 0, 0, 'batch-x', 'in_progress')"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    found = Registry(path).find("batch-x")
    assert found is not None and found.batches[0].status == "in_progress"


def test_status_updates_are_recorded(tmp_path):
    reg = Registry(tmp_path / "r.sqlite3")
    job_id = reg.new_job("fp", "local", "n", {})
    reg.record_batch(job_id, 0, 0, "b1", "validating")
    reg.record_status("b1", "completed")
    assert reg.find("b1").batches[0].status == "completed"


def test_listing_only_the_registry_does_not_start_the_local_server():
    import importlib

    import dw_notebook as dw

    local_module = importlib.import_module("dw_notebook.local")  # dw.local is the function
    dw.stop_local()
    frame = dw.list_jobs(server=False)
    assert frame.empty and local_module._server is None
