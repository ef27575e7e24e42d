"""The OpenAI-shaped surface of autobatch: ``client.chat.completions.create(...)`` and friends,
awaitable, with a ``client.sync`` twin that returns futures."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, ClassVar

import orjson

from .. import wire
from ._collect import Collected, collect
from ._engine import Call, Engine, Stats
from ._sdk import openai_sdk

_DROPPED = ("extra_headers", "extra_query", "timeout")


def request_body(kwargs: dict[str, Any]) -> tuple[str, bytes]:
    """(model, JSON body) of one call's keyword arguments, as the SDK would send them.

    Raises in the caller for what a batch cannot carry: no model, ``stream=True``, values
    that are not JSON.
    """
    extra = kwargs.pop("extra_body", None) or {}
    omit = openai_sdk().Omit
    body = {k: v for k, v in kwargs.items() if k not in _DROPPED and not isinstance(v, omit)}
    body.update(extra)
    if body.get("stream"):
        raise ValueError("autobatch cannot stream: a batch answers once. Drop stream=True.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise TypeError("create() needs model=, e.g. model='Qwen/Qwen3.5-9B'")
    try:
        return model, orjson.dumps(body)
    except TypeError as exc:
        raise TypeError(f"the request body is not JSON ({exc}); pass plain values") from None


class _Endpoint:
    """``create(**kwargs)`` for one endpoint URL; awaitable, or returning a future (sync)."""

    def __init__(self, engine: Engine, url: str, sync: bool) -> None:
        self._engine = engine
        self._url = url
        self._sync = sync

    def create(self, **kwargs: Any) -> Any:
        """Queue one call. Async client: an awaitable (an asyncio future of the running loop,
        so ``asyncio.gather`` needs no task per call); sync twin: a ``concurrent`` future."""
        model, body = request_body(kwargs)
        if self._sync:
            future: Any = concurrent.futures.Future()
            self._engine.put(Call(self._url, model, body, future))
            return future
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                "no running event loop: use `await client...create(...)` inside async code (a "
                "notebook cell is), or `client.sync...create(...).result()` from plain code"
            ) from None
        future = loop.create_future()
        self._engine.put(Call(self._url, model, body, future, loop))
        return future


class _Chat:
    def __init__(self, engine: Engine, sync: bool) -> None:
        self.completions = _Endpoint(engine, wire.CHAT, sync)


class _Surface:
    """The namespaces of an OpenAI client that autobatch serves."""

    def __init__(self, engine: Engine, sync: bool) -> None:
        self.chat = _Chat(engine, sync)
        self.embeddings = _Endpoint(engine, wire.EMBEDDINGS, sync)
        self.completions = _Endpoint(engine, wire.COMPLETIONS, sync)
        self.responses = _Endpoint(engine, wire.RESPONSES, sync)


class AutoBatch(_Surface):
    """An OpenAI-compatible client whose calls are sent as batches behind the caller.

    >>> client = dw.autobatch(window="24h", batch_size=1000, flush_after=10)  # doctest: +SKIP
    >>> reply = await client.chat.completions.create(model=m, messages=msgs)  # ChatCompletion
    >>> replies = await asyncio.gather(*(client.embeddings.create(model=e, input=t) for t in ts))
    >>> future = client.sync.chat.completions.create(model=m, messages=msgs)  # from plain code
    >>> future.result()                                                       # blocks

    Chat, embeddings, completions and responses calls mix freely (in one ``asyncio.gather``
    too); they are sent as one batch per endpoint and model, because a batch file holds one
    endpoint on OpenAI and on the local server, which refuse a file that mixes them.

    ``flush()`` sends what is queued now; ``collect()`` gathers the answers of every batch this
    client's name has sent, also from before a kernel restart. A failed call raises the SDK's
    exception (``openai.BadRequestError``...) in its caller; a failed batch fails each of its
    calls with the batch's reason.
    """

    #: Set by ``dw_notebook`` on import: shows a client in a notebook (its status widget).
    views: ClassVar[Callable[[AutoBatch], None] | None] = None

    def __init__(self, engine: Engine, *, collector: dict[str, Any]) -> None:
        super().__init__(engine, sync=False)
        self.sync = _Surface(engine, sync=True)
        self._engine = engine
        self._collector = collector

    @property
    def stats(self) -> Stats:
        """Calls queued, batches in flight, answered, failed, cost so far."""
        return self._engine.stats

    def status(self) -> dict[str, Any]:
        """The counters as plain data (what the widget shows)."""
        engine = self._engine
        engine.stats.busy = engine.busy.text() if engine.busy is not None else ""
        stats = asdict(engine.stats)
        if stats["busy"]:  # the widget's error line shows it
            stats["last_error"] = stats["busy"]
        return {**stats, "name": engine.name, "window": engine.window,
                "closed": engine.closed}  # fmt: skip

    def flush(self) -> None:
        """Send every queued call now (returns once their batches exist)."""
        self._engine.flush()

    def collect(self, *, wait: bool = True, timeout: float | None = None) -> list[Collected]:
        """Every call of every batch sent under this client's name on this service (this
        session's and earlier kernels'), with its answer or error, oldest first."""
        return collect(**self._collector, wait=wait, timeout=timeout)

    def close(self, *, wait: bool = True, timeout: float | None = None) -> None:
        """Stop. ``wait``: send what is queued and wait for every answer first; otherwise calls
        still open fail (their batches keep running: ``collect()`` them later)."""
        if wait:
            self._engine.drain(timeout)
        self._engine.stop("the autobatch client was closed first; collect() the answer later")

    def __enter__(self) -> AutoBatch:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def __aenter__(self) -> AutoBatch:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await asyncio.to_thread(self.close)

    def _ipython_display_(self) -> None:
        if AutoBatch.views is None:
            print(repr(self))
        else:
            AutoBatch.views(self)

    def __repr__(self) -> str:
        engine = self._engine
        return (
            f"<dw autobatch {engine.name!r} · {engine.window} window · batches of "
            f"{engine.batch_size} or every {engine.flush_after:g}s · {engine.stats.line()}>"
        )
