"""A second join, and a join after a kernel restart, read finished result files from the local
cache instead of downloading them again; a batch still running is never cached."""

from __future__ import annotations

import hashlib
import time

import pytest

import dw_notebook as dw
from dw_notebook.datasets import sample_reviews

PROMPT = "Sentiment: {review}"
CONTENT = "GET", r"/files/[^/]+/content"


def test_second_join_and_attach_read_the_cache(proxy, server):
    df = sample_reviews(60)
    conn = {"api_key": server.token, "base_url": proxy.base_url}
    job = dw.submit(df, PROMPT, model="mock", name="cached", **conn)
    first = job.join()
    downloads = proxy.count(*CONTENT)
    assert downloads >= 1

    again = job.join()
    restarted = dw.attach("cached", df, **conn).join()

    assert proxy.count(*CONTENT) == downloads
    cols = ["content", "status", "batch_id"]
    assert again[cols].equals(first[cols]) and restarted[cols].equals(first[cols])


def test_a_damaged_cache_entry_is_downloaded_again(proxy, server, isolated_home):
    df = sample_reviews(20)
    conn = {"api_key": server.token, "base_url": proxy.base_url}
    job = dw.submit(df, PROMPT, model="mock", name="damaged", **conn)
    first = job.join()
    for blob in (isolated_home / "results").glob("*.jsonl"):
        blob.write_bytes(blob.read_bytes()[:-10])  # cut short
    downloads = proxy.count(*CONTENT)
    again = dw.attach("damaged", df, **conn).join()
    assert proxy.count(*CONTENT) > downloads
    assert again["content"].equals(first["content"])


@pytest.mark.parametrize("dialect", ["doubleword"])  # its output file grows while it runs
def test_files_of_a_running_batch_are_not_cached(make_server, isolated_home):
    srv = make_server(rate=5.0)
    job = dw.submit(sample_reviews(50), PROMPT, model="mock",
                    api_key=srv.token, base_url=srv.base_url)  # fmt: skip
    while not job.refresh().completed:  # some lines written, the batch still running
        time.sleep(0.05)
    outputs, _, _ = job._reader.files(job.batch_ids, job._tracker.batches)  # what join reads
    assert outputs and outputs[0][1], "the running batch's output should already have lines"
    assert not list((isolated_home / "results").glob("*.jsonl"))
    job.cancel()


def test_a_second_join_does_not_parse_the_files_again(server, monkeypatch):
    job = dw.submit(sample_reviews(30), PROMPT, model="mock",
                    api_key=server.token, base_url=server.base_url)  # fmt: skip
    first = job.join()

    def refuse(*args, **kwargs):
        raise AssertionError("parsed again")

    monkeypatch.setattr("dw_notebook.job.reading.parse_results", refuse)
    assert job.join()["content"].equals(first["content"])


def test_threads_caching_the_same_content_at_once_all_succeed(tmp_path):
    # result files downloaded in parallel often have the same bytes (every empty error file)
    from concurrent.futures import ThreadPoolExecutor

    from dw_notebook.job.cache import ResultCache
    from dw_notebook.job.registry import Registry

    cache = ResultCache(Registry(tmp_path / "registry.sqlite3"), "local", root=tmp_path / "r")
    data = b'{"custom_id": "x"}\n' * 50_000

    def put_many(worker: int) -> None:
        for i in range(20):
            (cache.root / f"{hashlib.sha256(data).hexdigest()}.jsonl").unlink(missing_ok=True)
            cache.put(f"file-{worker}-{i}", data)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(put_many, range(4)))  # raises what any thread raised
    assert cache.get("file-3-19") == data
