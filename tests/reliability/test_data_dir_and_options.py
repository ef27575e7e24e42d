"""Issue 22, the rest of its table: a damaged or full data dir says in one line where and what
to do (and a join keeps the answers it downloaded); result columns never overwrite the user's;
``submit`` takes what ``prepare`` takes; a base URL without ``/v1`` is hinted at."""

from __future__ import annotations

import errno
import sqlite3
import warnings

import pytest
from counts import PROMPT, tally
from kernels import run_notebook

import dw_notebook as dw
from dw_notebook.datasets import sample_reviews
from dw_notebook.job import cache

ROWS = 30


def _cell(server, **args) -> dict:
    return {"base_url": server.base_url, "token": server.token, "rows": ROWS,
            "submit": {"max_requests": 10}, **args}  # fmt: skip


# registry garbled ---------------------------------------------------------------------------


def test_a_garbled_registry_is_one_line_naming_it_and_its_advice_pays_nothing_twice(
    server, tmp_path, report
):
    home = tmp_path / "laptop"
    first = run_notebook(home, **_cell(server))
    assert "error" not in first, first
    path = home / "registry.sqlite3"
    data = bytearray(path.read_bytes())
    data[100:] = b"\xab" * (len(data) - 100)  # the header intact, every page garbled
    path.write_bytes(bytes(data))
    refused = run_notebook(home, **_cell(server))
    assert refused["error"] == "RegistryError", refused
    assert refused["message"] == (
        f"the job registry {path} is damaged (database disk image is malformed); move it away "
        f"(mv {path} {path}.damaged) or delete it, then run the cell again: the service keeps "
        "every job, and the re-run (or dw.attach(name)) finds it there without paying twice"
    )
    path.rename(path.with_name(path.name + ".damaged"))  # what the message says
    again = run_notebook(home, **_cell(server, join=True))
    assert again["job"] == first["job"] and again["statuses"] == {"ok": ROWS}
    assert sorted(again["batch_ids"]) == sorted(first["batch_ids"])
    t = tally(server, None, ROWS)
    t.rows, t.rows_lost = ROWS, ROWS - again["statuses"]["ok"]
    report(t, fault="registry garbled (header kept); the same cell, then again as advised",
           message=refused["message"].replace(str(path), "<home>/registry.sqlite3"),
           scenario=f"registry garbled [{server.dialect}]")  # fmt: skip


# data dir full ------------------------------------------------------------------------------


def test_a_full_disk_under_the_cache_still_joins_every_answer_downloaded(
    server, monkeypatch, isolated_home
):
    conn = {"api_key": server.token, "base_url": server.base_url}
    job = dw.submit(sample_reviews(ROWS), PROMPT, model="mock", max_requests=10, **conn)
    job.poll_interval = 0.05

    def no_space(*_):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache, "write_blob", no_space)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        out = job.join(timeout=60)
    assert out["status"].eq("ok").all() and out["content"].notna().all()
    said = [str(w.message) for w in seen if "cache" in str(w.message)]
    assert said == [
        f"could not keep result files in the cache at {isolated_home / 'results'} (No space "
        "left on device); the answers downloaded are joined all the same, and read from the "
        "service again next time. Free some space there, or set DW_NOTEBOOK_HOME to a writable "
        "directory"
    ]


class _FullDisk(sqlite3.Connection):
    """A registry connection on a full disk: every write is refused as SQLite refuses it."""

    def execute(self, sql, *args):
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            raise sqlite3.OperationalError("database or disk is full")
        return super().execute(sql, *args)


def test_a_full_disk_under_the_registry_is_one_line_before_anything_is_sent(
    server, monkeypatch, isolated_home
):
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: connect(*a, factory=_FullDisk, **k))
    conn = {"api_key": server.token, "base_url": server.base_url}
    with pytest.raises(dw.RegistryError) as refused:
        dw.submit(sample_reviews(ROWS), PROMPT, model="mock", **conn)
    path = isolated_home / "registry.sqlite3"
    assert str(refused.value) == (
        f"the job registry {path} cannot be written: no space left on its disk (database or "
        "disk is full); free some space there or set DW_NOTEBOOK_HOME to another directory, "
        "then run the cell again: the service keeps every job, and the re-run (or "
        "dw.attach(name)) finds it there without paying twice"
    )
    assert tally(server, None, 0).batches == 0


# result columns never overwrite the user's --------------------------------------------------


@pytest.mark.parametrize("dialect", ["doubleword"])
@pytest.mark.parametrize("columns", [["status"], ["content", "error", "batch_id"]])
def test_a_result_column_clash_is_refused_before_anything_is_sent(server, conn, columns):
    df = sample_reviews(5)
    for column in columns:
        df[column] = "mine"
    with pytest.raises(ValueError) as refused:
        dw.submit(df, PROMPT, model="mock", **conn)
    names = ", ".join(repr(c) for c in sorted(columns, key=_order))
    s = "s" if len(columns) > 1 else ""
    assert str(refused.value) == (
        f"the DataFrame already has column{s} {names}, which the joined results would "
        "overwrite; nothing was sent. Pass output_prefix='dw_' (or another prefix) to name the "
        "result columns dw_status, dw_content, ..., or rename yours"
    )
    assert tally(server, None, 0).batches == 0
    out = dw.submit(df, PROMPT, model="mock", output_prefix="dw_", **conn).join(timeout=60)
    assert (out[columns] == "mine").all().all()  # the user's, untouched
    assert out["dw_status"].eq("ok").all() and out["dw_content"].notna().all()
    assert {"dw_error", "dw_batch_id", "dw_attempt"} <= set(out.columns)


def _order(column: str) -> int:
    return ["content", "status", "error", "batch_id"].index(column)


# submit takes what prepare takes ------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["openai"])
def test_submit_takes_max_line_bytes_as_prepare_does(server, conn):
    df = sample_reviews(4)
    df.loc[df.index[2], "review"] = "long " * 400
    with pytest.raises(ValueError) as prepared:
        dw.prepare(df, PROMPT, model="mock", max_line_bytes=1000)
    with pytest.raises(ValueError) as submitted:
        dw.submit(df, PROMPT, model="mock", max_line_bytes=1000, **conn)
    assert type(submitted.value) is type(prepared.value)
    assert str(submitted.value) == str(prepared.value)
    job = dw.submit(df.drop(df.index[2]), PROMPT, model="mock", max_line_bytes=1000, **conn)
    assert job.join(timeout=60)["status"].eq("ok").all()


# a base URL without /v1 ---------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_a_base_url_without_v1_names_the_url_and_hints_at_it(server):
    bare = server.base_url.removesuffix("/v1")
    with pytest.raises(dw.APIError) as refused:
        dw.submit(sample_reviews(3), PROMPT, model="mock", api_key=server.token, base_url=bare,
                  max_requests=10).wait_submitted()  # fmt: skip
    assert refused.value.status_code == 404
    text = str(refused.value)
    assert f"{bare}/" in text  # the URL that answered 404
    assert f"the base URL {bare!r} has no /v1" in text and f"try base_url={bare + '/v1'!r}" in text
