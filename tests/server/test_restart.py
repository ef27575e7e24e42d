"""A server restarted on the same data dir resumes unfinished batches: nothing lost or doubled."""

from __future__ import annotations

import pytest
from server_support import Api, chat_line, wait_until

from dw_notebook.server import start_server


@pytest.mark.parametrize("dialect", ["openai", "doubleword"])
def test_restart_resumes_mid_batch_without_losing_or_repeating_requests(tmp_path, dialect):
    data = tmp_path / "data"
    opts = dict(dialect=dialect, data_dir=data, validation_delay=0, finalize_delay=0, shuffle=True)
    first = start_server(rate=100.0, **opts)
    api = Api(first)
    created = api.submit([chat_line(i) for i in range(300)])
    wait_until(lambda: api.batch(created["id"])["request_counts"]["completed"] >= 20)
    api.close()
    first.stop()
    row = _batch_row(data, created["id"])
    assert 20 <= row["completed"] < 300
    # a crash between writing lines and committing them leaves bytes the database never saw
    with open(data / "files" / f"{row['out_id']}.jsonl", "ab") as fh:
        fh.write(b'{"id":"half-written","custom_id":"row-0"')

    second = start_server(rate=None, token=first.token, **opts)
    api = Api(second)
    try:
        assert second.data_dir == data
        done = api.wait(created["id"])
        assert done["status"] == "completed"
        assert done["request_counts"] == {"total": 300, "completed": 300, "failed": 0}
        ids = [x["custom_id"] for x in api.lines(done["output_file_id"])]
        assert sorted(ids) == sorted(f"row-{i}" for i in range(300))  # each exactly once
    finally:
        api.close()
        second.stop()
    assert data.exists()  # a given data dir is kept


def test_restart_keeps_files_batches_and_the_moved_clock(tmp_path):
    data = tmp_path / "data"
    with start_server(
        dialect="openai", data_dir=data, rate=None, validation_delay=0, finalize_delay=0
    ) as srv:
        api = Api(srv)
        done = api.wait(api.submit([chat_line(1)])["id"])
        srv.clock.advance(5000)
        moved = srv.clock.now()
        api.close()
    with start_server(dialect="openai", data_dir=data, rate=None) as srv:
        api = Api(srv)
        assert api.batch(done["id"])["status"] == "completed"
        assert len(api.lines(done["output_file_id"])) == 1
        assert srv.clock.now() >= moved
        api.close()


def test_an_input_file_gone_after_restart_fails_the_batch_instead_of_stalling(tmp_path):
    data = tmp_path / "data"
    opts = dict(dialect="openai", data_dir=data, validation_delay=0, finalize_delay=0)
    with start_server(rate=100.0, **opts) as srv:
        api = Api(srv)
        created = api.submit([chat_line(i) for i in range(300)])
        wait_until(lambda: api.batch(created["id"])["request_counts"]["completed"] > 0)
        api.close()
    (data / "files" / f"{created['input_file_id']}.jsonl").unlink()
    with start_server(rate=None, **opts) as srv:
        api = Api(srv)
        done = api.wait(created["id"])
        assert done["status"] == "failed"
        assert done["errors"]["data"][0]["code"] == "file_not_found"
        n = done["request_counts"]["completed"]
        assert len(api.lines(done["output_file_id"])) == n
        assert len(api.lines(done["error_file_id"])) == 300 - n
        api.close()


def test_a_temporary_data_dir_is_removed_on_stop():
    srv = start_server(rate=None)
    path = srv.data_dir
    assert (path / "state.sqlite3").exists()
    srv.stop()
    srv.stop()  # idempotent
    assert not path.exists()


def _batch_row(data, batch_id):
    import sqlite3

    db = sqlite3.connect(data / "state.sqlite3")
    db.row_factory = sqlite3.Row
    try:
        return dict(db.execute("SELECT * FROM batches WHERE id = ?", (batch_id,)).fetchone())
    finally:
        db.close()


def _indexes(data) -> set[str]:
    import sqlite3

    db = sqlite3.connect(data / "state.sqlite3")
    try:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    finally:
        db.close()


def test_a_data_dir_from_before_the_partial_indexes_resumes_and_is_upgraded(tmp_path):
    import sqlite3

    data = tmp_path / "data"
    opts = dict(dialect="doubleword", data_dir=data, validation_delay=0, finalize_delay=0)
    first = start_server(rate=100.0, backend_options={"failure_rate": 0.3}, **opts)
    api = Api(first)
    created = api.submit([chat_line(i) for i in range(300)])
    wait_until(lambda: api.batch(created["id"])["request_counts"]["completed"] >= 20)
    api.close()
    first.stop()
    db = sqlite3.connect(data / "state.sqlite3")  # the index an older release made instead
    db.executescript(
        "DROP INDEX requests_pending; DROP INDEX requests_retry;"
        "CREATE INDEX requests_todo ON requests (batch_id, state, pos);"
    )
    db.close()

    second = start_server(rate=None, token=first.token, retry_backoff=0.0, **opts)
    api = Api(second)
    try:
        assert {"requests_pending", "requests_retry"} <= _indexes(data)
        assert "requests_todo" not in _indexes(data)
        done = api.wait(created["id"])
        counts = done["request_counts"]
        assert counts["total"] == 300 and counts["completed"] + counts["failed"] == 300
        ids = [x["custom_id"] for x in api.lines(done["output_file_id"])]
        ids += [x["custom_id"] for x in api.lines(done["error_file_id"])]
        assert sorted(ids) == sorted(f"row-{i}" for i in range(300))  # each exactly once
    finally:
        api.close()
        second.stop()
