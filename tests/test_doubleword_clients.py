"""Doubleword's own clients against the local server in the Doubleword dialect: autobatcher
(flex Responses polling and 24h batches), langchain-doubleword, the openai SDK, and dw-cli.

The echo backend answers each chat with its last user message, so every answer names the request
it belongs to; the mock's embeddings depend only on the text, so they can be computed here.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import openai
import orjson
import pytest

from dw_notebook.server.backends import MockBackend

PROMPTS = [f"question number {i}" for i in range(6)]
TEXTS = ["first text", "second text", "third text"]
FAST = {"batch_window_seconds": 0.05, "poll_interval_seconds": 0.05}


@pytest.fixture
def dialect():
    return "doubleword"


@pytest.fixture
def echo(make_server):
    return make_server(backend="echo", rate=None)


def _vector(text: str) -> list[float]:
    _, reply = MockBackend().respond("/v1/embeddings", {"model": "echo", "input": text})
    return reply["data"][0]["embedding"]


def _batches(srv) -> list[dict]:
    auth = {"Authorization": f"Bearer {srv.token}"}
    return httpx.get(f"{srv.base_url}/batches", headers=auth).json()["data"]


def _poll(read: Callable[[], object], done: Callable[[object], bool], what: str) -> object:
    """Read until ``done`` holds (the server works on its own threads); fail after 15 s."""
    deadline = time.monotonic() + 15
    while not done(value := read()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
    return value


def _ask(prompt: str) -> list[dict]:
    return [{"role": "user", "content": prompt}]


# -- autobatcher ---------------------------------------------------------------------------------


def test_autobatcher_default_mode_polls_flex_responses(echo):
    import autobatcher

    async def run():
        client = autobatcher.BatchOpenAI(api_key=echo.token, base_url=echo.base_url, **FAST)
        try:
            return await asyncio.gather(
                *(client.chat.completions.create(model="echo", messages=_ask(p)) for p in PROMPTS)
            )
        finally:
            await client.close()

    answers = asyncio.run(run())
    assert [a.choices[0].message.content for a in answers] == PROMPTS
    assert all(a.usage.total_tokens > 0 for a in answers)
    assert _batches(echo) == []  # flex went through /v1/responses, not the Batch API


def test_autobatcher_24h_batches_chat_and_embeddings(echo):
    import autobatcher

    async def run():
        client = autobatcher.BatchOpenAI(
            api_key=echo.token, base_url=echo.base_url, completion_window="24h", **FAST
        )
        try:
            chats = [
                client.chat.completions.create(model="echo", messages=_ask(p)) for p in PROMPTS
            ]
            vectors = [client.embeddings.create(model="echo", input=t) for t in TEXTS]
            answers = await asyncio.gather(*chats, *vectors)  # one window: both batches at once
            return answers[: len(chats)], answers[len(chats) :]
        finally:
            await client.close()

    chats, vectors = asyncio.run(run())
    assert [c.choices[0].message.content for c in chats] == PROMPTS
    assert [v.data[0].embedding for v in vectors] == [_vector(t) for t in TEXTS]
    batches = _batches(echo)
    assert sorted(b["endpoint"] for b in batches) == ["/v1/chat/completions", "/v1/embeddings"]
    assert {b["status"] for b in batches} == {"completed"}


# -- langchain-doubleword ------------------------------------------------------------------------


def test_langchain_chat_doubleword_realtime(echo):
    import langchain_doubleword as lc

    llm = lc.ChatDoubleword(model="echo", api_key=echo.token, base_url=echo.base_url)
    assert llm.invoke("hello there").content == "hello there"
    streamed = "".join(chunk.content for chunk in llm.stream("streamed words"))
    assert streamed == "streamed words"


def test_langchain_chat_doubleword_async_uses_flex(echo):
    import langchain_doubleword as lc

    llm = lc.ChatDoublewordAsync(model="echo", api_key=echo.token, base_url=echo.base_url, **FAST)

    async def run():
        try:
            return await llm.abatch(PROMPTS)
        finally:
            await llm.root_async_client.close()

    assert [m.content for m in asyncio.run(run())] == PROMPTS
    assert _batches(echo) == []


def test_langchain_chat_doubleword_batch_and_embeddings_batch(echo):
    import langchain_doubleword as lc

    llm = lc.ChatDoublewordBatch(model="echo", api_key=echo.token, base_url=echo.base_url, **FAST)
    emb = lc.DoublewordEmbeddingsBatch(
        model="echo",
        api_key=echo.token,
        base_url=echo.base_url,
        check_embedding_ctx_length=False,  # no tiktoken download: send the texts as they are
        **FAST,
    )

    async def run():
        try:
            return await asyncio.gather(llm.abatch(PROMPTS), emb.aembed_documents(TEXTS))
        finally:
            await llm.root_async_client.close()
            await emb.async_client._client.close()

    messages, vectors = asyncio.run(run())
    assert [m.content for m in messages] == PROMPTS
    assert vectors == [_vector(t) for t in TEXTS]
    assert {b["endpoint"] for b in _batches(echo)} == {"/v1/chat/completions", "/v1/embeddings"}


# -- the openai SDK ------------------------------------------------------------------------------


def test_openai_sdk_realtime_and_background_responses(echo):
    with openai.OpenAI(api_key=echo.token, base_url=echo.base_url, max_retries=0) as client:
        chat = client.chat.completions.create(model="echo", messages=_ask("ping"))
        assert chat.choices[0].message.content == "ping"
        vectors = client.embeddings.create(model="echo", input=TEXTS)
        assert [d.embedding for d in vectors.data] == [_vector(t) for t in TEXTS]
        accepted = client.responses.create(
            model="echo", input="background ping", background=True, service_tier="flex"
        )
        assert accepted.status == "queued"
        got = _poll(
            lambda: client.responses.retrieve(accepted.id),
            lambda r: r.status not in ("queued", "in_progress"),
            f"response {accepted.id}",
        )
        assert (got.status, got.output_text) == ("completed", "background ping")


# -- a dw-cli style batch: embeddings lines in a batch created for chat completions ---------------


def test_embeddings_lines_in_a_chat_completions_batch(echo):
    lines = [
        {"custom_id": f"e{i}", "method": "POST", "url": "/v1/embeddings",
         "body": {"model": "echo", "input": t}}
        for i, t in enumerate(TEXTS)
    ]  # fmt: skip
    data = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    with openai.OpenAI(api_key=echo.token, base_url=echo.base_url, max_retries=0) as client:
        uploaded = client.files.create(file=("emb.jsonl", data), purpose="batch")
        batch = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        batch = _poll(
            lambda: client.batches.retrieve(batch.id),
            lambda b: b.status in ("completed", "failed", "expired", "cancelled"),
            f"batch {batch.id}",
        )
        assert batch.status == "completed", batch.errors
        out = client.files.content(batch.output_file_id).text
    got = {r["custom_id"]: r["response"]["body"]["data"][0]["embedding"]
           for r in map(orjson.loads, out.splitlines())}  # fmt: skip
    assert got == {f"e{i}": _vector(t) for i, t in enumerate(TEXTS)}


# -- dw-cli --------------------------------------------------------------------------------------


def _dw_binary() -> str:
    """The ``dw`` binary, or a skip naming why it cannot run here."""
    found = shutil.which("dw")
    if found is None:
        try:
            import dw_cli  # the PyPI package bundles the binary
        except ImportError:
            pytest.skip("dw-cli is not installed (pip install dw-cli)")
        found = str(Path(dw_cli.__file__).parent / "bin" / "dw")
    probe = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        reason = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else "no output"
        pytest.skip(f"the dw binary cannot run here (it needs glibc >= 2.39): {reason}")
    return found


def test_dw_cli_batches_run_and_realtime(echo, tmp_path):
    dw = _dw_binary()
    home = tmp_path / "home"
    (home / ".dw").mkdir(parents=True)
    (home / ".dw" / "config.toml").write_text('active_account = "local"\n')
    (home / ".dw" / "credentials.toml").write_text(
        f'[accounts.local]\ninference_key = "{echo.token}"\n'
    )
    env = {**os.environ, "HOME": str(home)}
    server = echo.base_url.removesuffix("/v1")
    base = [dw, "--server-ai", server, "--output", "json"]

    said = subprocess.run([*base, "realtime", "echo", "say this back"], capture_output=True,
                          text=True, env=env, timeout=60)  # fmt: skip
    assert said.returncode == 0, said.stderr
    assert said.stdout.strip() == "say this back"

    lines = tmp_path / "batch.jsonl"
    lines.write_bytes(b"".join(
        orjson.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions",
                      "body": {"model": "echo", "messages": _ask(p)}}) + b"\n"
        for i, p in enumerate(PROMPTS)
    ))  # fmt: skip
    ran = subprocess.run([*base, "batches", "run", str(lines), "--watch"], capture_output=True,
                         text=True, env=env, timeout=120)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    batches = _batches(echo)
    assert len(batches) == 1 and batches[0]["status"] == "completed"
