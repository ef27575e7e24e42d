"""kill -9 of the submitting kernel at each step of a 3-chunk submit, then the same cell again:
every chunk has one batch, every upload is used, every row is joined once."""

from __future__ import annotations

import pytest
from counts import PROMPT, tally
from kill import submit_and_kill

import dw_notebook as dw
from dw_notebook.datasets import sample_reviews

STEPS = {
    "upload 0 answer withheld": ("^/files$", 0),
    "upload 2 answer withheld (chunks 0, 1 uploaded)": ("^/files$", 2),
    "create 0 answer withheld (all uploaded)": ("^/batches$", 0),
    "create 2 answer withheld (chunks 0, 1 created)": ("^/batches$", 2),
}


@pytest.mark.parametrize("dialect", ["doubleword"])
@pytest.mark.parametrize("step", list(STEPS))
def test_kill_at_each_step_then_rerun(server, proxy, report, step):
    path, skip = STEPS[step]
    proxy.hold("POST", path, 30, skip=skip)
    submit_and_kill(proxy, server.token, 30, 10,
                    lambda: proxy.answered_upstream("POST", path, action="hold"))  # fmt: skip
    # A create the killed kernel had already sent still reaches the service: the re-run starts
    # once it has. (One landing during the re-run's look-up is the race of two kernels creating
    # the same chunk at once, tested on its own in test_known_by_the_service.py.)
    creates = "^/batches$"
    proxy.wait_for(lambda: proxy.answered_upstream("POST", creates) == proxy.count("POST", creates),
                   what="the killed kernel's creates reaching the server")  # fmt: skip
    proxy.clear()
    job = dw.submit(
        sample_reviews(30), PROMPT, model="mock", name="killed", max_requests=10,
        api_key=server.token, base_url=proxy.base_url,
    )  # fmt: skip
    job.poll_interval = 0.05
    out = job.join(timeout=60)
    assert proxy.answered_upstream("POST", "^/files$") == 3  # no chunk uploaded twice
    t = tally(server, out, 30)
    assert t.batches == 3
    report(t, fault=f"kill -9 of the submitting kernel: {step}; the same cell run again",
           message="(none: the re-run finds the uploads and batches the service already has)",
           scenario=f"kill -9 at {step}")  # fmt: skip


def test_the_lookup_follows_pages_past_newer_batches_of_other_jobs(server, proxy, monkeypatch):
    from dw_notebook.client import BatchClient
    from dw_notebook.job import create

    creates = "^/batches$"
    proxy.hold("POST", creates, 30)
    submit_and_kill(proxy, server.token, 10, 10,
                    lambda: proxy.answered_upstream("POST", creates, action="hold"))  # fmt: skip
    proxy.clear()
    with BatchClient(server.base_url, server.token) as client:  # 5 newer batches of others
        file_id = client.upload_file(_line())["id"]
        for i in range(5):
            tag = {"dw_job": f"other-{i}", "dw_attempt": "0", "dw_chunk": "0"}
            client.create_batch(file_id, "/v1/chat/completions", "24h", tag)
    monkeypatch.setattr(create, "LOOKUP_PAGE_SIZE", 2)  # the job's batch is on page 3
    job = dw.submit(sample_reviews(10), PROMPT, model="mock", name="killed", max_requests=10,
                    api_key=server.token, base_url=proxy.base_url).wait_submitted()  # fmt: skip
    assert proxy.count("POST", "^/batches$") == 1  # only the killed kernel's create
    if server.dialect == "openai":  # no search=: the pages are followed
        assert proxy.count("GET", "^/batches$") >= 3
    else:  # Doubleword narrows the list to the job's batches with search=
        lists = [s for s in proxy.seen if s.method == "GET" and s.path == "/batches"]
        assert lists and all(f"search={job.id}" in s.query for s in lists)
    job.poll_interval = 0.05
    t = tally(server, job.join(timeout=60), 10)
    t.assert_clean()


def _line() -> bytes:
    return (
        b'{"custom_id":"a","method":"POST","url":"/v1/chat/completions",'
        b'"body":{"model":"mock","messages":[{"role":"user","content":"hi"}]}}\n'
    )
