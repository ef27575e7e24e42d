"""Autobatch: ad-hoc OpenAI-style calls from any cell, sent as batches behind the caller.

>>> client = dw.autobatch(window="24h", batch_size=1000, flush_after=10)   # doctest: +SKIP
>>> reply = await client.chat.completions.create(model="Qwen/Qwen3.5-9B",  # doctest: +SKIP
...                                              messages=[{"role": "user", "content": "Hi"}])
>>> reply.choices[0].message.content                                        # doctest: +SKIP

Modules: ``_client`` (the SDK-shaped surface), ``_engine`` (queue, batches, polling on a daemon
thread), ``_answers`` (result lines as SDK objects and exceptions), ``_collect`` (answers of
recorded batches after a restart).
"""

from __future__ import annotations

import uuid

from .. import wire
from ..client import DEFAULT_PATIENCE, BusyWatch
from ..job.registry import Registry
from ..job.submit import client_for, connect
from ._client import AutoBatch
from ._collect import KIND, Collected, collect
from ._engine import Engine, Stats
from ._sdk import openai_sdk

__all__ = ["KIND", "AutoBatch", "Collected", "Stats", "autobatch", "collect"]


def autobatch(
    window: str = "24h",
    batch_size: int = 1000,
    flush_after: float = 10.0,
    *,
    name: str = "autobatch",
    poll_interval: float | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
    registry: Registry | None = None,
    patience: float | None = DEFAULT_PATIENCE,
) -> AutoBatch:
    """An OpenAI-compatible client whose calls are queued and sent as batches.

    A batch goes when ``batch_size`` calls of one endpoint and model are queued, or
    ``flush_after`` seconds after the first of them, or on ``flush()``. Calls answer with the
    ``openai`` SDK's own types; see ``AutoBatch``. ``name`` groups the batches in the registry:
    ``dw.autobatch(name=...).collect()`` in a new kernel gets the answers of batches sent before.
    ``patience`` (seconds) bounds how long a service that refuses (429/503 with Retry-After) is
    waited out; the wait shows in ``status()`` as "service busy (...)".
    """
    openai_sdk()  # an ImportError naming the extra, before anything is recorded
    if window not in wire.COMPLETION_WINDOWS:
        raise ValueError(f"window must be one of {sorted(wire.COMPLETION_WINDOWS)}, not {window!r}")
    if not isinstance(batch_size, int) or not 1 <= batch_size <= wire.MAX_REQUESTS_PER_FILE:
        raise ValueError(
            f"batch_size must be 1 to {wire.MAX_REQUESTS_PER_FILE:,}, not {batch_size}"
        )
    if flush_after <= 0:
        raise ValueError(f"flush_after must be a positive number of seconds, not {flush_after}")
    connection = connect(api_key, base_url)
    client = client_for(connection)
    registry = registry or Registry()
    spec = {"kind": KIND, "endpoint": "mixed", "model": "", "window": window, "metadata": {}}
    fingerprint = f"{KIND}:{uuid.uuid4().hex}"  # every client is its own job in the registry
    job_id = registry.new_job(fingerprint, connection.service_key, name, spec)
    if poll_interval is None:
        poll_interval = 0.2 if connection.simulated or "127.0.0.1" in client.base_url else 5.0
    busy = BusyWatch(patience)
    engine = Engine(
        client.watched(busy), registry, job_id, window=window, batch_size=batch_size,
        flush_after=float(flush_after), poll_interval=poll_interval, name=name,
    )  # fmt: skip
    engine.busy = busy
    engine.trust_404 = connection.simulated  # elsewhere a 404 may be a read outage
    collector = {"client": client, "registry": registry, "service": connection.service_key,
                 "name": name}  # fmt: skip
    return AutoBatch(engine, collector=collector)
