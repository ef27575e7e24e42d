"""A job is known by the service, not by one machine (issue 22): each notebook is a separate
process with its own data dir, against the local server over HTTP; each scenario ends with the
counts of what it cost (batches per chunk, rows paid twice)."""

from __future__ import annotations

import re
import shutil

import pytest
from counts import Tally, tally
from kernels import ready, result, run_notebook, start_notebook

from dw_notebook.config import Connection

ROWS = 30


def _cell(server, **args) -> dict:
    return {"base_url": server.base_url, "token": server.token, "rows": ROWS,
            "submit": {"max_requests": 10}, **args}  # fmt: skip


def _counted(server, statuses: dict, n: int = ROWS) -> Tally:
    t = tally(server, None, n)
    t.rows, t.rows_lost = n, n - statuses.get("ok", 0)
    return t


# data dir deleted ---------------------------------------------------------------------------


@pytest.mark.parametrize("when", ["running", "done"])
def test_data_dir_deleted_then_the_same_cell_pays_nothing_twice(
    make_server, tmp_path, report, when
):
    server = make_server(rate=8.0 if when == "running" else 2000.0)
    home = tmp_path / "colab"
    first = run_notebook(home, **_cell(server, join=when == "done"))
    assert "error" not in first, first
    shutil.rmtree(home)  # a Colab runtime reset, a new laptop, a cleaned home
    second = run_notebook(home, **_cell(server, join=True))
    assert "error" not in second, second
    assert second["job"] == first["job"]
    assert sorted(second["batch_ids"]) == sorted(first["batch_ids"])
    t = _counted(server, second["statuses"])
    assert t.batches == 3
    report(t, fault=f"data dir deleted, job {when}; the same submit cell in a new process",
           message="(none: the look-up before each create finds the job's batches on the "
           "service by the job id their metadata carries)",
           scenario=f"data dir deleted ({when}) [{server.dialect}]")  # fmt: skip


# registry truncated -------------------------------------------------------------------------


def test_registry_truncated_then_attach_and_the_same_cell_pay_nothing_twice(
    server, tmp_path, report
):
    home = tmp_path / "laptop"
    first = run_notebook(home, **_cell(server))
    assert "error" not in first, first
    for path in home.glob("registry.sqlite3*"):
        path.write_bytes(b"")  # truncated to 0 bytes (a disk hiccup, a sync tool)
    second = run_notebook(home, **_cell(server, attach="same-cell", join=True))
    assert "error" not in second, second
    assert second["attached"] == first["job"] == second["job"]
    assert sorted(second["batch_ids"]) == sorted(first["batch_ids"])
    t = _counted(server, second["statuses"])
    report(t, fault="registry truncated to 0 bytes; dw.attach(name, df), then the same cell",
           message="(none: attach rebuilds the job from the batches' metadata on the service)",
           scenario=f"registry truncated [{server.dialect}]")  # fmt: skip


# two kernels at once ------------------------------------------------------------------------

RACE_ROUNDS = 3  # bench/race.py runs 20 and reports the figures


def race_round(server, tmp_path, k: int) -> tuple[list[dict], Tally]:
    """Two notebooks, each with its own data dir, run the same cell at the same moment."""
    args = _cell(server, rows=ROWS + k, go=True, join=True)
    procs = [start_notebook(tmp_path / f"round{k}-kernel{i}", **args) for i in range(2)]
    for proc in procs:
        ready(proc)
    for proc in procs:  # both cells start together
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = [result(proc) for proc in procs]
    return results, tally(server, None, 0)


def test_two_kernels_run_the_same_cell_at_once_and_one_batch_per_chunk_runs(
    make_server, tmp_path, report
):
    # a batch starts running once its requests are populated: Doubleword takes seconds, this
    # server 1 s; the younger duplicate is cancelled within one list and one cancel call
    # (bench/bench_race.py measures shorter delays: docs/RELIABILITY.md)
    server = make_server(validation_delay=1.0)
    jobs, before = set(), 0
    for k in range(RACE_ROUNDS):
        results, t = race_round(server, tmp_path, k)
        for r in results:
            assert "error" not in r, r
            assert r["statuses"] == {"ok": ROWS + k}
        assert results[0]["job"] == results[1]["job"]
        assert sorted(results[0]["batch_ids"]) == sorted(results[1]["batch_ids"])
        assert t.batches_per_chunk == 1 and t.paid_twice == 0, (t, results)
        jobs.add(results[0]["job"])
        total = t.extra["cancelled_before_running"]
        cancelled, before = total - before, total
        notes = [r["message"] for r in results if "cancelled before it ran" in r["message"]]
        assert len(notes) >= (1 if cancelled else 0)
    assert len(jobs) == RACE_ROUNDS
    t.rows = ROWS + RACE_ROUNDS - 1
    report(t, fault=f"two kernels (own data dirs) run the same cell at once, {RACE_ROUNDS} rounds",
           message="the widget of the kernel whose batch was younger: 'chunk 0 was created by "
           "another kernel at the same moment: this kernel's batch <id> was cancelled before it "
           "ran (nothing billed), and the job follows <id>'",
           scenario=f"two kernels at once [{server.dialect}]")  # fmt: skip


# one service, however its URL is written ----------------------------------------------------


def test_the_same_service_written_another_way_is_the_same_job(server, tmp_path, report):
    home = tmp_path / "laptop"
    first = run_notebook(home, **_cell(server))
    assert "error" not in first, first
    shouting = server.base_url.replace("http://", "HTTP://") + "/"
    second = run_notebook(home, **_cell(server, base_url=shouting, join=True))
    third = run_notebook(tmp_path / "other", **_cell(server, base_url=shouting, join=True))
    assert second["job"] == third["job"] == first["job"]
    assert sorted(second["batch_ids"]) == sorted(first["batch_ids"])
    assert sorted(third["batch_ids"]) == sorted(first["batch_ids"])
    t = _counted(server, second["statuses"])
    report(t, fault="the same service as http://127.0.0.1:<port>/v1 and HTTP://127.0.0.1:<port>/v1/",
           message="(none: one service key however its URL is written)",
           scenario=f"URL written another way [{server.dialect}]")  # fmt: skip


@pytest.mark.parametrize(
    "written",
    [
        "http://localhost:8765/v1",
        "HTTP://LOCALHOST:8765/v1/",
        "http://[::1]:8765/v1",
        "http://127.0.0.1:8765/v1//",
    ],
)
def test_loopback_names_scheme_case_and_slashes_name_one_service(written):
    assert Connection(written, "k").service_key == "http://127.0.0.1:8765/v1"


def test_default_ports_name_one_service():
    assert Connection("HTTPS://API.Doubleword.ai:443/v1/", "k").service_key == (
        "https://api.doubleword.ai/v1"
    )
    assert Connection("http://example.com:80/v1", "k").service_key == "http://example.com/v1"
    assert Connection("http://example.com:8080/v1", "k").service_key == (
        "http://example.com:8080/v1"
    )


# a 413, then the re-run its message advises -------------------------------------------------


@pytest.mark.parametrize("budget", [None, 10.0])
def test_a_413_then_a_smaller_max_bytes_finishes_the_job_as_it_was_split(
    make_server, tmp_path, report, budget
):
    from cell import PROMPT, frame

    import dw_notebook as dw

    rows, long_from, per_file = 100, 68, 34
    built = dw.prepare(frame(rows, long_from), PROMPT, model="mock")
    sizes = [c.nbytes for c in built.chunks(max_requests=per_file)]
    limit = max(sizes[:2]) + 200
    assert sizes[2] > limit  # only chunk 2 is refused
    server = make_server(max_file_bytes=limit)
    options = {"max_requests": per_file}
    if budget is not None:  # every file is uploaded before the first create: none is created
        options |= {"budget": budget, "price": [0.1, 0.1]}
    args = _cell(server, rows=rows, long_from=long_from, submit=options)
    home = tmp_path / "laptop"
    first = run_notebook(home, **args)
    assert first["error"] == "FileTooLargeError", first
    assert f"Chunk 2 (requests 68-99, {sizes[2]:,} bytes) was refused." in first["message"]
    if budget is None:
        assert "Chunks 0 (requests 0-33), 1 (requests 34-67) of job 'same-cell' already have " \
            "batches on the service: they run and are billed" in first["message"]  # fmt: skip
    else:  # the uploads of chunks 0 and 1 (the old split) are not reused for other requests
        assert "No batch of this job was created." in first["message"]
    args["submit"]["max_bytes"] = limit  # what the message advises
    if budget is not None:  # and max_requests= too: chunk 0 is then other requests than before
        args["submit"]["max_requests"] = 20
    second = run_notebook(home, **args, join=True)
    assert "error" not in second, second
    assert second["statuses"] == {"ok": rows}
    t = _counted(server, second["statuses"], rows)
    assert t.batches_per_chunk == 1 and t.paid_twice == 0, t
    message = first["message"].split("Fix:")[0].strip()
    if budget is None:
        report(t, fault="a 413 on chunk 2 of 3; the re-run with the smaller max_bytes= it "
               "advises", message=message,
               scenario=f"413 then a smaller max_bytes [{server.dialect}]")  # fmt: skip


# the result cache ---------------------------------------------------------------------------


def _reversed_answers(data: bytes) -> bytes:
    """Each answer's text backwards: the same length, valid JSON, every answer wrong."""
    return re.sub(rb'("content":\s*")([^"\\]*)(")', lambda m: m[1] + m[2][::-1] + m[3], data)


@pytest.mark.parametrize("damage", ["garbled", "zeroed"])
def test_a_damaged_cached_result_file_is_read_again_from_the_service(
    server, tmp_path, report, damage
):
    home = tmp_path / "laptop"
    args = _cell(server, rows=300, submit={})
    first = run_notebook(home, **args, join=True)
    assert first["statuses"] == {"ok": 300}, first
    damaged = 0
    for blob in sorted((home / "results").glob("*.jsonl")):
        data = blob.read_bytes()
        bad = _reversed_answers(data) if damage == "garbled" else bytes(len(data))
        assert len(bad) == len(data)
        damaged += bad != data
        blob.write_bytes(bad)
    assert damaged
    again = run_notebook(home, **args, join=True, retry=True)  # a new kernel, the same cell
    assert again["statuses"] == {"ok": 300}, again
    assert again["answers"] == first["answers"]
    assert again["retried"] == "nothing to retry: every row of job 'same-cell' has an answer"
    t = _counted(server, again["statuses"], 300)
    report(t, fault=f"the cached result file {damage} at the same length; a new kernel joins "
           "and retries", message="(none: the digest is checked on read and the file is "
           "downloaded again; retry() has nothing to send)",
           scenario=f"cached result file {damage} [{server.dialect}]")  # fmt: skip


# the look-up without local state: search where the service has it, pages elsewhere ----------


def test_the_look_up_finds_a_job_behind_pages_of_other_batches(
    proxy, server, tmp_path, monkeypatch
):
    from cell import PROMPT, frame

    import dw_notebook as dw
    from dw_notebook.job import create

    conn = {"api_key": server.token, "base_url": proxy.base_url}
    first = run_notebook(tmp_path / "other-laptop", **_cell(server, base_url=proxy.base_url))
    newer = dw.submit(frame(ROWS), "Other: {review}", model="mock", max_requests=10, **conn)
    assert len(newer.wait_submitted().batch_ids) == 3  # 3 newer batches of another job
    monkeypatch.setattr(create, "LOOKUP_PAGE_SIZE", 2)
    seen, creates = len(proxy.seen), proxy.count("POST", "^/batches$")
    job = dw.submit(frame(ROWS), PROMPT, model="mock", name="same-cell", max_requests=10, **conn)
    job.wait_submitted()
    assert proxy.count("POST", "^/batches$") == creates  # nothing created
    assert job.id == first["job"] and sorted(job.batch_ids) == sorted(first["batch_ids"])
    lists = [s for s in proxy.seen[seen:] if s.method == "GET" and s.path == "/batches"]
    assert lists and all(f"search={first['job']}" in s.query for s in lists)
    # Doubleword narrows the list to the job's 3 batches (2 pages of 2); OpenAI has no search,
    # so the 6 batches are paged through (3 pages)
    assert len(lists) == (2 if server.dialect == "doubleword" else 3)


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_list_jobs_names_the_job_of_batches_another_machine_made(server, tmp_path):
    import dw_notebook as dw

    first = run_notebook(tmp_path / "other-laptop", **_cell(server))
    listed = dw.list_jobs(api_key=server.token, base_url=server.base_url)  # an empty registry
    assert sorted(listed["batch_id"]) == sorted(first["batch_ids"])
    assert set(listed["job"]) == {"same-cell"} and set(listed["job_id"]) == {first["job"]}
    assert sorted(listed["chunk"].tolist()) == [0, 1, 2]
