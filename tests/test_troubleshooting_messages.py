"""Every message the troubleshooting page quotes is the one the package prints for that case.

The page marks each quoted message as ``<!-- message: ID -->`` followed by a ```` ```text ````
block; ``<...>`` in it stands for a part that varies. Each case below produces the error for real
(the local server over HTTP, with the fault proxy answering in Doubleword's shape where the
server cannot produce the fault) and matches the package's message against the page's.
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pandas as pd
import pytest
from support.proxy import FaultProxy, Reply

import dw_notebook as dw
from dw_notebook.client import BatchClient
from dw_notebook.errors import (
    AuthenticationError,
    FileTooLargeError,
    InsufficientCreditsError,
    MissingResultFileError,
    NotFoundError,
    RateLimitError,
)

PAGE = Path(__file__).parents[1] / "docs" / "troubleshooting.md"
QUOTE = re.compile(r"<!-- message: ([a-z0-9-]+) -->\n```text\n(.*?)\n```", re.DOTALL)
PLACEHOLDER = re.compile(r"<[a-z][a-z0-9 _-]*>")
DF = pd.DataFrame({"text": ["a", "b", "c"]}, index=["r0", "r1", "r2"])
JSON = {"content-type": "application/json"}


def quoted() -> dict[str, str]:
    found = QUOTE.findall(PAGE.read_text())
    messages = dict(found)
    assert len(messages) == len(found), "two quoted messages share an id"
    return messages


def pattern(text: str) -> re.Pattern[str]:
    """The page's message as a pattern: whitespace runs match any whitespace (the page wraps long
    lines), ``<...>`` matches any non-empty text."""
    parts = PLACEHOLDER.split(" ".join(text.split()))
    return re.compile("(.+?)".join(re.escape(p) for p in parts), re.DOTALL)


def assert_quoted(case: str, printed: str) -> None:
    expected = quoted()[case]
    assert pattern(expected).fullmatch(" ".join(printed.split())), (
        f"the page's message {case!r} is not what the package prints:\n"
        f"page:    {' '.join(expected.split())}\nprinted: {' '.join(printed.split())}"
    )


def batches_on(server) -> int:
    with BatchClient(server.base_url, server.token) as client:
        return len(list(client.iter_batches()))


def test_the_page_quotes_exactly_the_messages_tested_here():
    assert sorted(quoted()) == sorted(CASES), "a quoted message without a test, or the reverse"


def test_placeholders_match_only_what_varies():
    assert pattern("401: <service message>. Fix: x").fullmatch("401: Unauthorized. Fix: x")
    assert not pattern("401: <service message>. Fix: x").fullmatch("401: . Fix: y")
    assert not pattern("402: <m>. Fix: add credits").fullmatch("402: m. Fix: add  money")


# -- the cases, each producing the message for real ----------------------------------------------


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_http_401(server):
    with pytest.raises(AuthenticationError) as raised:
        dw.submit(DF, "Echo: {text}", model="mock", api_key="wrong",
                  base_url=server.base_url).wait_submitted()  # fmt: skip
    assert_quoted("http-401", str(raised.value))


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_http_402_and_the_rerun_it_advises(server, proxy):
    conn = {"api_key": server.token, "base_url": proxy.base_url}
    proxy.answer("POST", "^/batches$", 402, "Insufficient credits", times=None)
    with pytest.raises(InsufficientCreditsError) as raised:
        dw.submit(DF, "Echo: {text}", model="mock", **conn).wait_submitted()
    assert_quoted("http-402", str(raised.value))
    proxy.clear()  # credits added: the same call resumes the job, reusing its upload
    out = dw.submit(DF, "Echo: {text}", model="mock", **conn).join(timeout=30)
    assert out["status"].eq("ok").all()
    assert proxy.count("POST", "^/files$") == 1
    assert batches_on(server) == 1


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_model_404(server, proxy):
    body = orjson.dumps(
        {"error": {"message": "The model 'qwen' does not exist", "code": "model_not_found"}}
    )
    proxy.answer("POST", "^/batches$", 404, body, JSON)
    with pytest.raises(NotFoundError) as raised:  # a listed model: the upload passes its check
        dw.submit(DF, "Echo: {text}", model="mock", api_key=server.token,
                  base_url=proxy.base_url).wait_submitted()  # fmt: skip
    assert_quoted("model-404", str(raised.value))


@pytest.fixture
def model_rows(make_server):
    """The rows of a batch that failed validation for its model (OpenAI checks it there)."""
    strict = make_server(dialect="openai")  # it checks models against its list
    job = dw.submit(DF, "Echo: {text}", model="qwen", api_key=strict.token,
                    base_url=strict.base_url)  # fmt: skip
    return job.join(timeout=30)


@pytest.mark.parametrize("dialect", ["openai"])
def test_model_row(model_rows):
    assert model_rows["status"].tolist() == ["failed"] * 3
    assert_quoted("model-row", model_rows["error"].iloc[0])


@pytest.mark.parametrize("dialect", ["openai"])
def test_model_other_rows(model_rows):
    assert_quoted("model-other-rows", model_rows["error"].iloc[1])


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_http_413(make_server):
    small = make_server(max_file_bytes=200)
    with pytest.raises(FileTooLargeError) as raised:
        dw.submit(DF, "Echo: {text}" + "x" * 300, model="mock", api_key=small.token,
                  base_url=small.base_url).wait_submitted()  # fmt: skip
    assert_quoted("http-413", str(raised.value))
    assert ".." not in str(raised.value)  # the service's "... bytes." then ". Fix:"


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_http_429_and_the_rerun_it_advises(server, proxy):
    conn = {"api_key": server.token, "base_url": proxy.base_url}
    body = orjson.dumps(
        {
            "error": "insufficient_capacity",
            "message": "Insufficient capacity for the 1h completion window; try a longer one.",
            "retry_after_seconds": 0,
        }
    )  # every answer a refusal, so the waits the service asks for are used up
    proxy.answer("POST", "^/batches$", 429, body, JSON | {"retry-after": "0"}, times=None)
    with pytest.raises(RateLimitError) as raised:
        dw.submit(DF, "Echo: {text}", model="mock", window="1h", **conn).wait_submitted()
    assert_quoted("http-429", str(raised.value))
    proxy.clear()  # later: the same call resumes the job
    out = dw.submit(DF, "Echo: {text}", model="mock", window="1h", **conn).join(timeout=30)
    assert out["status"].eq("ok").all()
    assert proxy.count("POST", "^/files$") == 1
    assert batches_on(server) == 1


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_stuck_validating(make_server):
    slow = make_server(validation_delay=30.0)
    job = dw.submit(DF, "Echo: {text}", model="mock", api_key=slow.token,
                    base_url=slow.base_url).wait_submitted()  # fmt: skip
    job._tracker.stuck_validating_s = 0.0  # the threshold (10 minutes) reached at once
    snapshot = job.refresh()
    assert snapshot.phase == "validating"
    assert_quoted("stuck-validating", snapshot.message)
    job.cancel()


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_past_window(make_server):
    slow = make_server(rate=0.5)
    with FaultProxy(slow.base_url) as proxy:

        def past_window(reply: Reply, path: str) -> Reply:
            batch = orjson.loads(reply.body)
            batch["expired_at"] = batch["created_at"]  # Doubleword marks expiry, keeps working
            return Reply(reply.status, reply.headers, orjson.dumps(batch))

        proxy.rewrite("GET", r"^/batches/[^/]+$", past_window)
        job = dw.submit(DF, "Echo: {text}", model="mock", api_key=slow.token,
                        base_url=proxy.base_url).wait_submitted()  # fmt: skip
        snapshot = job.refresh()
        assert not job.done
        assert_quoted("past-window", snapshot.message)
        job.cancel()


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_unreadable_lines(server, proxy):
    def no_body(reply: Reply, path: str) -> Reply:
        lines = [orjson.loads(line) for line in reply.body.splitlines() if line.strip()]
        for line in lines:
            if line["custom_id"] == "r0" and line.get("response"):
                line["response"]["body"] = None  # a 200 that carries no answer
        return Reply(reply.status, reply.headers, b"".join(orjson.dumps(x) + b"\n" for x in lines))

    proxy.rewrite("GET", r"/files/.*/content", no_body)
    job = dw.submit(DF, "Echo: {text}", model="mock", api_key=server.token,
                    base_url=proxy.base_url)  # fmt: skip
    with pytest.warns(UserWarning) as warned:
        job.join(timeout=30)
    texts = [str(w.message) for w in warned if "could not be read" in str(w.message)]
    assert len(texts) == 1
    assert_quoted("unreadable-lines", texts[0])


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_missing_result_file(server, conn):
    job = dw.submit(DF, "Echo: {text}", model="mock", **conn)
    job.wait(timeout=30)
    with BatchClient(server.base_url, server.token) as client:
        client.delete_file(client.get_batch(job.batch_ids[0])["output_file_id"])
    with pytest.raises(MissingResultFileError) as raised:
        job.join()
    assert_quoted("missing-result-file", str(raised.value))


def test_over_budget():
    with pytest.raises(dw.BudgetExceededError) as raised:
        dw.submit(DF, "Echo: {text}", model="Qwen/Qwen3.5-9B", budget=0.0000001)
    assert_quoted("over-budget", str(raised.value))
    with pytest.raises(dw.BudgetExceededError, match="or use the 24h window"):
        dw.submit(DF, "Echo: {text}", model="Qwen/Qwen3.5-9B", budget=0.0000001, window="1h")


@pytest.mark.parametrize("dialect", ["openai"])  # a service without its own estimate
def test_no_price(server, conn):
    with pytest.raises(dw.BudgetExceededError) as raised:
        dw.submit(DF, "Echo: {text}", model="my-org/my-model", budget=1.0, **conn).wait_submitted()
    assert_quoted("no-price", str(raised.value))


CASES = [
    "http-401", "http-402", "model-404", "model-row", "model-other-rows", "http-413", "http-429",
    "stuck-validating", "past-window", "unreadable-lines", "missing-result-file", "over-budget",
    "no-price",
]  # fmt: skip
