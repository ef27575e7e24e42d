"""Each result file is parsed as soon as it has arrived, while others still download; what the
join reports (lines it could not read plainly, which batch and line they were) is the same as
reading the files one after another in batch order, whichever file arrives first."""

from __future__ import annotations

import orjson
import pytest
from support.proxy import Reply

import dw_notebook as dw
from dw_notebook.datasets import sample_reviews
from dw_notebook.jsonl.results import parse_results


def _spoil(reply: Reply, path: str) -> Reply:
    """Line 2 names no custom_id, line 3 is a 200 without an answer, line 4 is not strict JSON."""
    lines = [orjson.loads(line) for line in reply.body.splitlines() if line.strip()]
    if len(lines) < 4:  # an error file (empty here)
        return reply
    del lines[1]["custom_id"]
    lines[2]["response"]["body"] = None
    text = [orjson.dumps(line) for line in lines]
    text[3] = text[3][:-1] + b', "extra": NaN}'
    return Reply(reply.status, reply.headers, b"".join(line + b"\n" for line in text))


def test_reports_follow_batch_order_when_the_first_file_arrives_last(proxy, server):
    conn = {"api_key": server.token, "base_url": proxy.base_url}
    job = dw.submit(sample_reviews(40), "Sentiment: {review}", model="mock", max_requests=10,
                    **conn)  # fmt: skip
    job.wait(timeout=60)
    files = [job._tracker.batches[b]["output_file_id"] for b in job.batch_ids]
    assert len(files) == 4
    proxy.rewrite("GET", r"/files/[^/]+/content", _spoil)
    proxy.rewrite("GET", rf"/files/{files[0]}/content", _spoil, seconds=1.0)  # arrives last

    with pytest.warns(UserWarning):
        out = job.join()

    expected = [(f"output file {f}", b) for b, f in zip(job.batch_ids, files, strict=True)]
    for kind, line in (("malformed", 2), ("unreadable", 3), ("salvaged", 4)):
        entries = out.attrs[f"dw_{kind}_lines"]
        assert [(e["source"], e["batch_id"]) for e in entries] == expected
        assert {e["line"] for e in entries} == {line}
        assert out.attrs[f"dw_{kind}_count"] == 4
    unreadable = out[out["status"].eq("unreadable")]
    assert sorted(
        unreadable["error"].str.extract(r"\((batch \S+ output file \S+ line 3)\)")[0]
    ) == (
        sorted(
            f"batch {b} output file {f} line 3" for b, f in zip(job.batch_ids, files, strict=True)
        )
    )

    # the same as parsing the files one after another, in batch order
    outputs, errors, _ = job._reader.files(job.batch_ids, job._tracker.batches)
    one_by_one = parse_results(outputs, errors)
    assert out.attrs["dw_malformed_lines"] == one_by_one.malformed
    assert out.attrs["dw_salvaged_lines"] == one_by_one.salvaged
    assert out.attrs["dw_unreadable_lines"] == one_by_one.unreadable
