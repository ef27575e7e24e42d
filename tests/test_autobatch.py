"""Autobatch against the local server over real HTTP: ad-hoc SDK-style calls become batches,
answers come back as the openai SDK's types, errors as its exceptions, and a new kernel can
collect what an earlier one sent."""

from __future__ import annotations

import asyncio

import openai
import orjson
import pytest
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion

import dw_notebook as dw
from dw_notebook import wire
from dw_notebook.client import BatchClient
from dw_notebook.server.backends import MockBackend

MODEL = "Qwen/Qwen3.5-9B"


def messages(i: int) -> list[dict]:
    return [{"role": "user", "content": f"Sentiment of review number {i}, one word"}]


def mock_answer(i: int, backend: MockBackend | None = None) -> tuple[int, dict]:
    return (backend or MockBackend()).respond(wire.CHAT, {"model": MODEL, "messages": messages(i)})


def server_batches(server) -> list[dict]:
    with_client = BatchClient(server.base_url, server.token)
    try:
        return list(reversed(list(with_client.iter_batches())))
    finally:
        with_client.close()


@pytest.fixture
def clients():
    """Autobatch clients made by a test, closed after it."""
    made = []

    def make(**options):
        made.append(dw.autobatch(**options))
        return made[-1]

    yield make
    for client in made:
        client.close(wait=False)


def test_2000_concurrent_calls_become_2_batches_of_1000(clients, conn, server):
    client = clients(batch_size=1000, flush_after=60, **conn)

    async def main():
        calls = [client.chat.completions.create(model=MODEL, messages=messages(i))
                 for i in range(2000)]  # fmt: skip
        return await asyncio.gather(*calls)

    replies = asyncio.run(main())

    assert all(isinstance(r, ChatCompletion) for r in replies)
    want = [mock_answer(i)[1]["choices"][0]["message"]["content"] for i in range(2000)]
    assert [r.choices[0].message.content for r in replies] == want
    assert len(set(want)) > 1  # answers differ per call, so a mix-up would show
    batches = server_batches(server)
    assert [b["request_counts"]["total"] for b in batches] == [1000, 1000]
    assert client.stats.answered == 2000 and client.stats.batches == 2
    assert "2000 answered" in repr(client).replace(",", "")


def test_chat_and_embeddings_mixed_in_one_gather(clients, conn, server):
    client = clients(flush_after=0.2, **conn)

    async def main():
        chats = [client.chat.completions.create(model=MODEL, messages=messages(i))
                 for i in range(30)]  # fmt: skip
        embeds = [client.embeddings.create(model="Qwen/Qwen3-Embedding-8B", input=f"text {i}")
                  for i in range(20)]  # fmt: skip
        return await asyncio.gather(*chats, *embeds)

    replies = asyncio.run(main())
    chats, embeds = replies[:30], replies[30:]
    assert all(isinstance(r, ChatCompletion) for r in chats)
    assert all(isinstance(r, CreateEmbeddingResponse) for r in embeds)
    backend = MockBackend()
    for i, reply in enumerate(embeds):
        body = {"model": "Qwen/Qwen3-Embedding-8B", "input": f"text {i}"}
        assert (
            reply.data[0].embedding
            == backend.respond(wire.EMBEDDINGS, body)[1]["data"][0]["embedding"]
        )
    # one batch per endpoint: a batch file holds one endpoint on OpenAI and the local server
    assert sorted(b["endpoint"] for b in server_batches(server)) == [wire.CHAT, wire.EMBEDDINGS]


def test_the_local_server_refuses_a_batch_file_that_mixes_endpoints(server):
    """Why autobatch sends one batch per endpoint: OpenAI refuses a file naming two endpoints
    (while validating); Doubleword checks each line's url only against its allowed paths and
    answers each line at its own url."""
    lines = [
        {"custom_id": "c", "method": "POST", "url": wire.CHAT,
         "body": {"model": MODEL, "messages": messages(1)}},
        {"custom_id": "e", "method": "POST", "url": wire.EMBEDDINGS,
         "body": {"model": MODEL, "input": "x"}},  # one model: only the URLs differ
    ]  # fmt: skip
    with BatchClient(server.base_url, server.token) as client:
        file = client.upload_file(b"".join(orjson.dumps(line) + b"\n" for line in lines))
        batch = client.create_batch(file["id"], wire.CHAT)
        while batch["status"] not in wire.TERMINAL_STATUSES:
            batch = client.get_batch(batch["id"])
    if server.dialect == "openai":
        assert batch["status"] == "failed"
        reason = str(batch["errors"]["data"])
        assert "does not match the batch endpoint" in reason and "embeddings" in reason
    else:
        assert batch["status"] == "completed"
        assert batch["request_counts"]["completed"] == 2


def test_a_failed_call_raises_the_sdk_exception_in_its_caller(clients, make_server):
    server = make_server(backend_options={"failure_rate": 0.3})
    client = clients(flush_after=0.2, api_key=server.token, base_url=server.base_url)
    backend = MockBackend(failure_rate=0.3)
    futures = [client.sync.chat.completions.create(model=MODEL, messages=messages(i))
               for i in range(40)]  # fmt: skip
    refused = 0
    for i, future in enumerate(futures):
        status, reply = mock_answer(i, backend)
        if status == 400:  # not retried by either dialect
            refused += 1
            with pytest.raises(openai.BadRequestError, match="maximum context length") as info:
                future.result(timeout=60)
            assert info.value.status_code == 400
        elif status == 200:
            assert (
                future.result(timeout=60).choices[0].message.content
                == (reply["choices"][0]["message"]["content"])
            )
    assert refused > 0


def test_a_cancelled_batch_fails_each_of_its_calls_with_the_reason(clients, make_server):
    server = make_server(rate=2.0)  # slow enough to cancel midway
    client = clients(flush_after=0.1, api_key=server.token, base_url=server.base_url)
    futures = [client.sync.chat.completions.create(model=MODEL, messages=messages(i))
               for i in range(20)]  # fmt: skip
    client.flush()
    admin = BatchClient(server.base_url, server.token)
    admin.cancel_batch(server_batches(server)[0]["id"])
    admin.close()
    errors = [f.exception(timeout=60) for f in futures]
    failed = [e for e in errors if e is not None]
    assert failed and all(isinstance(e, openai.APIError) for e in failed)
    assert all("cancel" in str(e) for e in failed)


def test_an_upload_the_service_refuses_fails_each_call(clients, make_server):
    server = make_server(max_file_bytes=500)
    client = clients(flush_after=0.1, api_key=server.token, base_url=server.base_url)
    futures = [client.sync.chat.completions.create(model=MODEL, messages=messages(i))
               for i in range(20)]  # fmt: skip
    for future in futures:
        error = future.exception(timeout=60)
        assert isinstance(error, openai.APIStatusError) and error.status_code == 413


def test_a_result_file_gone_from_the_service_fails_its_calls_instead_of_waiting(
    clients, proxy, server
):
    _answer_json(proxy, r"/files/[^/]+/content$", 404, b'{"error": {"message": "No such file"}}')
    errors = _errors_of_calls(clients, proxy, server, 5)
    assert all(isinstance(e, openai.APIError) and "is gone" in str(e) for e in errors), errors


def _answer_json(proxy, path: str, status: int, body: bytes) -> None:
    """The proxy answers every GET of ``path`` with this JSON instead of the server."""
    proxy.answer("GET", path, status, body, {"content-type": "application/json"}, times=None)


def _errors_of_calls(clients, proxy, server, n: int) -> list:
    """What ``n`` calls through the proxy end with (their exceptions)."""
    client = clients(flush_after=0.1, api_key=server.token, base_url=proxy.base_url)
    futures = [client.sync.chat.completions.create(model=MODEL, messages=messages(i))
               for i in range(n)]  # fmt: skip
    return [f.exception(timeout=30) for f in futures]


def test_bad_calls_raise_at_once_in_the_caller(clients, conn):
    client = clients(**conn)
    with pytest.raises(ValueError, match="cannot stream"):
        client.sync.chat.completions.create(model=MODEL, messages=messages(1), stream=True)
    with pytest.raises(TypeError, match="needs model"):
        client.sync.embeddings.create(input="x")
    with pytest.raises(TypeError, match="not JSON"):
        client.sync.embeddings.create(model=MODEL, input=object())
    with pytest.raises(RuntimeError, match="client.sync"):  # the async client, outside a loop
        client.chat.completions.create(model=MODEL, messages=messages(1))


def test_a_new_kernel_collects_the_answers_of_batches_sent_before(clients, conn, server):
    first = clients(name="nightly", flush_after=60, **conn)
    futures = [first.sync.chat.completions.create(model=MODEL, messages=messages(i))
               for i in range(25)]  # fmt: skip
    first.flush()  # the batch exists and is in the registry
    first.close(wait=False)  # the kernel dies before the answers arrive
    assert all(isinstance(f.exception(timeout=5), openai.APIError) for f in futures)

    later = clients(name="nightly", **conn)  # a new kernel: only the registry on disk
    collected = later.collect(timeout=60)
    assert len(collected) == 25 and all(c.ok for c in collected)
    by_content = {c.request["messages"][0]["content"]: c.response for c in collected}
    for i in range(25):
        reply = by_content[messages(i)[0]["content"]]
        assert isinstance(reply, ChatCompletion)
        assert (
            reply.choices[0].message.content
            == mock_answer(i)[1]["choices"][0]["message"]["content"]
        )
    assert clients(name="other", **conn).collect() == []


def test_collect_says_which_file_is_gone_instead_of_blaming_the_batch(clients, server, proxy):
    from dw_notebook.client import BatchClient

    conn = {"api_key": server.token, "base_url": proxy.base_url}
    first = clients(name="gone", flush_after=0.1, **conn)
    futures = [first.sync.chat.completions.create(model=MODEL, messages=messages(i))
               for i in range(3)]  # fmt: skip
    assert all(f.exception(timeout=60) is None for f in futures)
    with BatchClient(server.base_url, server.token) as direct:
        (batch,) = direct.list_batches()["data"]
    missing = b'{"error": {"message": "No such file"}}', {"content-type": "application/json"}

    proxy.answer("GET", f"/files/{batch['output_file_id']}/content$", 404, *missing, times=None)
    collected = clients(name="gone", **conn).collect(timeout=30)
    assert len(collected) == 3
    assert all(f"{batch['output_file_id']} of batch" in str(c.error) and "is gone" in str(c.error)
               for c in collected), collected  # fmt: skip

    proxy.answer("GET", f"/files/{batch['input_file_id']}/content$", 404, *missing, times=None)
    with pytest.raises(dw.JobError, match=batch["input_file_id"]):  # its calls cannot be listed
        clients(name="gone", **conn).collect(timeout=30)


def test_calls_work_inside_an_event_loop_that_is_already_running(clients, conn):
    client = clients(flush_after=0.1, **conn)

    async def cell():  # a notebook cell: the kernel's loop runs it, and other tasks go on
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        reply = await client.chat.completions.create(model=MODEL, messages=messages(7))
        task.cancel()
        return reply, ticks

    reply, ticks = asyncio.run(cell())
    assert reply.choices[0].message.content == mock_answer(7)[1]["choices"][0]["message"]["content"]
    assert ticks > 1  # other tasks ran while the call waited: the loop was never blocked


def test_a_batch_gone_from_the_service_fails_its_calls_instead_of_waiting(clients, proxy, server):
    _answer_json(proxy, r"^/batches/[^/]+$", 404, b'{"error": {"message": "No such batch"}}')
    _answer_json(proxy, r"^/batches$", 200, b'{"object": "list", "data": []}')
    errors = _errors_of_calls(clients, proxy, server, 3)
    assert all(isinstance(e, openai.APIError) and "no longer has" in str(e) for e in errors), errors
