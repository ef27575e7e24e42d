"""What a poll asks the service: one page of its batch list for a job of several unfinished
batches instead of one request each, and a request per batch where the list cannot answer."""

from __future__ import annotations

import orjson
import pytest
from support.proxy import FaultProxy, Reply

import dw_notebook as dw
from dw_notebook.datasets import sample_reviews

PROMPT = "Sentiment: {review}"
ONE = r"^/batches/[^/]+$"  # GET of one batch
LIST = r"^/batches$"


@pytest.fixture
def slow(make_server):
    """A server slow enough that a 4-batch job stays unfinished while it is polled."""
    return make_server(rate=5.0)


def _job(proxy, server, rows=80):
    job = dw.submit(sample_reviews(rows), PROMPT, model="mock", max_requests=20,
                    api_key=server.token, base_url=proxy.base_url)  # fmt: skip
    return job.wait_submitted()


def _gets(proxy):
    return proxy.count("GET", ONE), proxy.count("GET", LIST)


def test_a_poll_of_several_unfinished_batches_reads_one_page_of_the_list(slow):
    with FaultProxy(slow.base_url) as proxy:
        job = _job(proxy, slow)
        before = _gets(proxy)
        snap = job.refresh()
        ones, lists = (a - b for a, b in zip(_gets(proxy), before, strict=True))
        assert (ones, lists) == (0, 1)
        assert len(snap.batches) == 4 and not snap.done and snap.poll_error is None
        assert {b.id for b in snap.batches} == set(job.batch_ids)
        job.cancel()


def test_a_batch_missing_from_the_page_is_asked_for_on_its_own(slow):
    with FaultProxy(slow.base_url) as proxy:
        job = _job(proxy, slow)
        hidden = job.batch_ids[2]

        def drop(reply: Reply, path: str) -> Reply:
            page = reply.json()
            page["data"] = [b for b in page["data"] if b["id"] != hidden]
            return Reply(reply.status, reply.headers, orjson.dumps(page))

        proxy.rewrite("GET", LIST, drop)
        before = proxy.count("GET", f"/batches/{hidden}$"), proxy.count("GET", ONE)
        job.refresh()
        assert proxy.count("GET", f"/batches/{hidden}$") - before[0] == 1
        assert proxy.count("GET", ONE) - before[1] == 1  # only the one the page left out
        assert job.snapshot().poll_error is None
        job.cancel()


def test_a_service_without_a_batch_list_is_polled_batch_by_batch(server):
    with FaultProxy(server.base_url) as proxy:
        proxy.answer("GET", LIST, 404, b'{"error": {"message": "Not Found"}}',
                     {"content-type": "application/json"}, times=None)  # fmt: skip
        job = _job(proxy, server)
        out = job.join(timeout=60)
    assert out["status"].eq("ok").all()
    # asked once by the look-up before the create, once by the polls, then never again
    assert proxy.count("GET", LIST) == 2
    assert proxy.count("GET", ONE) >= 4


def test_a_page_holding_none_of_the_jobs_batches_is_not_read_again(slow):
    with FaultProxy(slow.base_url) as proxy:
        job = _job(proxy, slow)

        def others(reply: Reply, path: str) -> Reply:  # newer batches of other work fill it
            return Reply(reply.status, reply.headers, b'{"object": "list", "data": []}')

        proxy.rewrite("GET", LIST, others)
        before = _gets(proxy)
        job.refresh()
        job.refresh()
        ones, lists = (a - b for a, b in zip(_gets(proxy), before, strict=True))
        assert (ones, lists) == (8, 1)  # each batch by itself, the list asked once
        job.cancel()
