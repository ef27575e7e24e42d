"""A result file gone from the service is an error, not silence: join raises naming the batch and
the file, and retry never pays again for rows whose outcome is unknown unless asked."""

from __future__ import annotations

import orjson
import pandas as pd
import pytest

import dw_notebook as dw
from dw_notebook.client import BatchClient
from dw_notebook.errors import MissingResultFileError
from dw_notebook.progress.text import format_summary

DF = pd.DataFrame({"text": [f"line {i}" for i in range(6)]})


def _delete_output(server, batch_id: str) -> str:
    with BatchClient(server.base_url, server.token) as client:
        file_id = client.get_batch(batch_id)["output_file_id"]
        client.delete_file(file_id)
    return file_id


def test_join_raises_and_retry_refuses_when_the_output_file_is_gone(server, conn):
    job = dw.submit(DF, "Echo: {text}", model="mock", **conn)
    job.wait(timeout=30)
    batch_id = job.batch_ids[0]
    file_id = _delete_output(server, batch_id)  # before any join read it into the local cache

    with pytest.raises(MissingResultFileError) as raised:
        job.join()
    text = str(raised.value)
    assert f"output file {file_id} of batch {batch_id}" in text
    assert "6 rows is unknown" in text and "retry(unknown=True)" in text

    with pytest.raises(MissingResultFileError):
        job.retry()
    assert job.batch_ids == [batch_id], "retry must not resubmit rows whose outcome is unknown"

    out = job.join(missing_files="not_run")  # asked for explicitly
    assert out["status"].eq("not_run").all()

    job.retry(unknown=True)  # asked for explicitly: the rows are sent again
    assert len(job.batch_ids) == 2
    again = job.join(timeout=30)  # every row has a line from the new attempt: nothing unknown
    assert again["status"].eq("ok").all() and again["attempt"].eq(1).all()


def test_unreadable_rows_are_not_retried_unless_asked(server, conn):
    from support.proxy import FaultProxy, Reply

    with FaultProxy(server.base_url) as proxy:

        def no_body(reply: Reply, path: str) -> Reply:
            lines = [orjson.loads(line) for line in reply.body.splitlines() if line.strip()]
            for line in lines:
                if line["custom_id"] == "0" and line.get("response"):
                    line["response"]["body"] = None  # a 200 that carries no answer
            return Reply(
                reply.status, reply.headers, b"".join(orjson.dumps(x) + b"\n" for x in lines)
            )

        proxy.rewrite("GET", r"/files/.*/content", no_body, times=None)
        job = dw.submit(DF, "Echo: {text}", model="mock", api_key=server.token,
                        base_url=proxy.base_url)  # fmt: skip
        with pytest.warns(UserWarning, match="1 answer"):
            out = job.join(timeout=30)
        assert out["status"].astype(str).value_counts().to_dict() == {"ok": 5, "unreadable": 1}
        snapshot = job.snapshot()  # the progress views show the count
        assert snapshot.extra["unreadable_lines"] == 1
        assert "(1 answer unreadable)" in format_summary(snapshot)
        with pytest.warns(UserWarning):
            with pytest.raises(dw.errors.JobError, match="nothing to retry"):
                job.retry()
        with pytest.warns(UserWarning):
            job.retry(unreadable=True)
        assert len(job.batch_ids) == 2


def test_answers_joined_once_survive_the_file_being_deleted(server, conn):
    # the first join keeps the finished files in the local cache: paid answers are not lost
    job = dw.submit(DF, "Echo: {text}", model="mock", **conn)
    first = job.join(timeout=30)
    _delete_output(server, job.batch_ids[0])
    again = dw.attach(job.name, DF, **conn).join()
    assert again["status"].eq("ok").all() and again["content"].equals(first["content"])
