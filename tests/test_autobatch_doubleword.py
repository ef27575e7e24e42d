"""Autobatch under Doubleword's real semantics: refusals that last, and reads that answer 404."""

from __future__ import annotations

import time

import pytest

import dw_notebook as dw

MODEL = "Qwen/Qwen3-14B-FP8"


def _messages(i: int) -> list[dict]:
    return [{"role": "user", "content": f"Label review {i}"}]


def _until(condition, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"never saw: {what}")
        time.sleep(0.02)


@pytest.fixture
def client_of():
    made = []

    def make(server, **options):
        made.append(dw.autobatch(flush_after=0.1, api_key=server.token,
                                 base_url=server.base_url, **options))  # fmt: skip
        return made[-1]

    yield make
    for client in made:
        client.close(wait=False)


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_no_capacity_shows_as_service_busy_and_fails_the_calls_at_patience(server, client_of):
    server.faults.capacity(seconds=3600)
    client = client_of(server, patience=2)
    futures = [client.sync.chat.completions.create(model=MODEL, messages=_messages(i))
               for i in range(3)]  # fmt: skip
    _until(lambda: client.status()["busy"], "the refusal in the status")
    assert client.status()["busy"].startswith("service busy (429, capacity): retrying in 60 s")
    assert "service busy (429, capacity)" in client.stats.line() or client.status()["last_error"]
    errors = [f.exception(timeout=10) for f in futures]  # at patience=2, not after an hour
    assert all("past patience=2 s" in str(e) for e in errors), errors


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_a_read_outage_does_not_fail_the_calls_of_batches_still_running(server, client_of):
    server.faults.read_outage(seconds=600)
    client = client_of(server)
    futures = [client.sync.chat.completions.create(model=MODEL, messages=_messages(i))
               for i in range(3)]  # fmt: skip
    _until(lambda: "cannot see batch" in (client.status()["last_error"] or ""), "the outage")
    assert not any(f.done() for f in futures)  # its files read 404 with it: not failed as gone
    server.clock.advance(600)
    answers = [f.result(timeout=20) for f in futures]
    assert all(a.choices[0].message.content for a in answers)
