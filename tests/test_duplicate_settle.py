"""A chunk created twice at the same moment (two kernels): the younger batch is cancelled, and
what the job says about it is true: "nothing billed" only when it had not started."""

from __future__ import annotations

import time

import orjson

from dw_notebook.client import BatchClient
from dw_notebook.job import create

ROWS = 40


def _upload(client: BatchClient) -> str:
    lines = [
        {"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions",
         "body": {"model": "mock", "messages": [{"role": "user", "content": f"row {i}"}]}}
        for i in range(ROWS)
    ]  # fmt: skip
    payload = b"\n".join(orjson.dumps(line) for line in lines) + b"\n"
    return str(client.upload_file(payload, filename="chunk-0.jsonl")["id"])


def _twins(server) -> tuple[BatchClient, dict, dict, dict]:
    client = BatchClient(server.base_url, server.token)
    tag = create.batch_tag("job-0123456789abcdef", 0, 0, (0, ROWS), "twins")
    spec = {"endpoint": "/v1/chat/completions", "window": "24h"}
    older = create.create_batch(client, _upload(client), spec, tag)
    time.sleep(1.1)  # the API's created_at has one-second resolution
    mine = create.create_batch(client, _upload(client), spec, tag)
    return client, tag, older, mine


def test_a_twin_cancelled_while_validating_is_said_to_cost_nothing(make_server):
    server = make_server(validation_delay=60.0)
    client, tag, older, mine = _twins(server)
    with client:
        kept, cancelled = create.settle(client, mine, tag)
    assert kept["id"] == older["id"]
    assert cancelled is not None and cancelled["id"] == mine["id"]
    assert not create.ran_before_cancel(cancelled)
    note = create.duplicate_note(0, cancelled, kept["id"])
    assert "before it ran (nothing billed)" in note and mine["id"] in note


def test_a_twin_that_had_started_is_not_said_to_cost_nothing(make_server):
    server = make_server(validation_delay=0.0, rate=4.0)  # 40 rows: about 10 s of running
    client, tag, older, mine = _twins(server)
    with client:
        deadline = time.monotonic() + 30
        while not client.get_batch(mine["id"]).get("in_progress_at"):
            assert time.monotonic() < deadline, "the younger batch never started"
            time.sleep(0.05)
        kept, cancelled = create.settle(client, mine, tag)
    assert kept["id"] == older["id"]
    assert cancelled is not None and cancelled["id"] == mine["id"]
    assert create.ran_before_cancel(cancelled)
    note = create.duplicate_note(0, cancelled, kept["id"])
    assert "nothing billed" not in note
    assert "had already started" in note and "requests 0-39" in note, note


def test_chunk_of_reads_the_tag_and_refuses_other_metadata():
    tag = create.batch_tag("job-0123456789abcdef", 2, 7)
    assert create.chunk_of({"metadata": tag}) == (2, 7)
    for metadata in (None, {}, {"dw_attempt": "x", "dw_chunk": "1"}, {"dw_attempt": "1"}):
        assert create.chunk_of({"metadata": metadata}) is None
