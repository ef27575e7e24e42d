"""The worker behind an autobatch client: queue calls, send them as batches, poll, answer.

One daemon thread does every network call (upload, create, poll, download) with the package's
synchronous client, so callers never block on the network and it works beside any event loop,
including a kernel's that is already running. Calls are grouped by endpoint and model (a batch
file has one of each on OpenAI and on the local server); a group is sent when it holds
``batch_size`` calls, when its first call has waited ``flush_after`` seconds, or on ``flush()``.
Every file and batch id goes to the registry at once, so a restarted kernel can collect them.
Answers are handed to asyncio callers in one thread-safe callback per batch and loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from .. import wire
from ..client import BatchClient, BusyWatch, batch_figures
from ..errors import DwError, NotFoundError
from ..job import create
from ..job.registry import Registry
from ..job.tracking import LOST_AFTER, cannot_see
from ..prices import price_for
from ..progress.text import format_cost
from . import _answers

log = logging.getLogger(__name__)

SENDERS = 4  # batches uploaded, created or read at the same time


class Call:
    """One queued request and the future its caller waits on."""

    __slots__ = ("url", "model", "body", "custom_id", "future", "loop")

    def __init__(self, url: str, model: str, body: bytes, future: Any, loop: Any = None) -> None:
        self.url = url
        self.model = model
        self.body = body  # the request body, as JSON bytes
        self.custom_id = ""
        self.future = future  # concurrent.futures.Future, or asyncio.Future on ``loop``
        self.loop = loop


@dataclass
class Stats:
    """What the client has done so far (the text repr and the widget show it)."""

    queued: int = 0
    sending: int = 0
    in_flight_batches: int = 0
    in_flight_calls: int = 0
    answered: int = 0
    failed: int = 0
    batches: int = 0
    cost_usd: float | None = None
    last_error: str | None = None
    busy: str = ""  # "service busy (429, capacity): retrying in 60 s, ..." while so

    def line(self) -> str:
        cost = "" if self.cost_usd is None else f" · cost so far {format_cost(self.cost_usd)}"
        note = f" · last error: {self.last_error}" if self.last_error else ""
        if self.busy:
            note = f" · {self.busy}"
        return (  # the widget's figures, worded as it words them (queued counts what is sending)
            f"{self.queued + self.sending:,} queued · {self.in_flight_batches} batches in flight "
            f"({self.in_flight_calls:,} calls) · {self.answered:,} answered · "
            f"{self.failed:,} failed · {self.batches} batches sent{cost}{note}"
        )


@dataclass
class _InFlight:
    url: str
    model: str
    calls: dict[str, Call]
    lines: dict[str, int]  # custom_id -> line number in the input file
    usd: float = 0.0
    batch: dict[str, Any] = field(default_factory=dict)
    finishing: bool = False
    misses: int = 0  # polls in a row the service answered 404 for the batch


class Engine:
    """Queues calls and runs them as batches on a daemon thread (see the module docstring)."""

    def __init__(
        self,
        client: BatchClient,
        registry: Registry,
        job_id: str,
        *,
        window: str,
        batch_size: int,
        flush_after: float,
        poll_interval: float,
        name: str,
    ) -> None:
        self._client = client
        self.busy: BusyWatch | None = None  # the refusals its calls wait out (``autobatch``)
        self.trust_404 = True  # False: a 404 may be a read outage, not a batch gone
        self._registry = registry
        self._job_id = job_id
        self.window = window
        self.batch_size = batch_size
        self.flush_after = flush_after
        self.poll_interval = poll_interval
        self.name = name
        self.stats = Stats()
        self._cond = threading.Condition()
        self._queues: dict[tuple[str, str], list[Call]] = {}
        self._since: dict[tuple[str, str], float] = {}
        self._flush = False
        self._stopping = False
        self._inflight: dict[str, _InFlight] = {}
        self._ids = itertools.count()
        self._chunks = itertools.count()  # every client is a new job: chunks from 0
        self._next_poll = 0.0
        # uploads, creates and downloads overlap on a few threads; the worker only decides
        self._pool = concurrent.futures.ThreadPoolExecutor(SENDERS, "dw-autobatch-io")
        self._thread = threading.Thread(target=self._run, name="dw-autobatch", daemon=True)
        self._thread.start()

    @property
    def closed(self) -> bool:
        return self._stopping

    # -- the callers' side -----------------------------------------------------------------

    def put(self, call: Call) -> None:
        """Queue one call; wakes the worker when its group is full or new."""
        key = (call.url, call.model)
        with self._cond:
            if self._stopping:
                raise RuntimeError("this autobatch client is closed; make a new one")
            queue = self._queues.setdefault(key, [])
            queue.append(call)
            self.stats.queued += 1
            if len(queue) == 1:
                self._since[key] = time.monotonic()
                self._cond.notify_all()
            elif len(queue) >= self.batch_size:
                self._cond.notify_all()

    def flush(self, wait: bool = True) -> None:
        """Send every queued call now; ``wait``: until their batches exist (ids recorded)."""
        with self._cond:
            self._flush = True
            self._cond.notify_all()
            while wait and (self._flush or self.stats.queued or self.stats.sending):
                if not self._thread.is_alive():
                    return
                self._cond.wait(0.5)

    def drain(self, timeout: float | None = None) -> bool:
        """Flush, then wait until every call sent so far has its answer; False on timeout."""
        self.flush()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._inflight or self.stats.queued or self.stats.sending:
                left = None if deadline is None else deadline - time.monotonic()
                if (left is not None and left <= 0) or not self._thread.is_alive():
                    return False
                self._cond.wait(0.5 if left is None else min(left, 0.5))
        return True

    def stop(self, reason: str) -> None:
        """Stop the worker; calls still queued or in flight fail with ``reason``."""
        with self._cond:
            self._stopping = True
            left = [c for q in self._queues.values() for c in q]
            left += [c for f in self._inflight.values() for c in list(f.calls.values())]
            self._queues.clear()
            self._inflight.clear()
            self.stats.queued = self.stats.in_flight_calls = self.stats.in_flight_batches = 0
            self._cond.notify_all()
        base = self._client.base_url
        self._settle([(c, None, _answers.plain_error(base, c.url, reason)) for c in left])
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False)

    # -- the worker --------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                ready = self._wait_for_work()
                if ready is None:
                    return
            for key, calls in ready:
                self._pool.submit(self._send_safely, key, calls)
            if self._inflight and time.monotonic() >= self._next_poll:
                self._next_poll = time.monotonic() + self.poll_interval
                try:
                    self._poll()
                except Exception as exc:  # the worker must not die: callers would wait forever
                    log.exception("dw-notebook autobatch: poll failed")
                    self.stats.last_error = str(exc)

    def _wait_for_work(self) -> list[tuple[tuple[str, str], list[Call]]] | None:
        """Under the lock: the groups to send now (None: stop); waits until there is work."""
        while True:
            if self._stopping:
                return None
            ready = self._take_ready()
            now = time.monotonic()
            if ready or (self._inflight and now >= self._next_poll):
                return ready
            wakes = [t + self.flush_after for t in self._since.values()]
            if self._inflight:
                wakes.append(self._next_poll)
            self._cond.wait(max(min(wakes) - now, 0.001) if wakes else None)

    def _take_ready(self) -> list[tuple[tuple[str, str], list[Call]]]:
        now = time.monotonic()
        ready = []
        for key, queue in list(self._queues.items()):
            due = self._flush or now - self._since[key] >= self.flush_after
            while len(queue) >= self.batch_size or (due and queue):
                ready.append((key, queue[: self.batch_size]))
                del queue[: self.batch_size]
            if not queue:
                del self._queues[key], self._since[key]
        self._flush = False
        taken = sum(len(calls) for _, calls in ready)
        self.stats.queued -= taken
        self.stats.sending += taken
        return ready

    def _send_safely(self, key: tuple[str, str], calls: list[Call]) -> None:
        try:
            self._send(key, calls)
        except Exception as exc:  # never leave a caller waiting
            log.exception("dw-notebook autobatch: sending a batch failed")
            error = _answers.plain_error(self._client.base_url, key[0], str(exc))
            self._settle([(c, None, error) for c in calls if not c.future.done()])
        finally:
            with self._cond:
                self.stats.sending -= len(calls)
                self._cond.notify_all()

    def _send(self, key: tuple[str, str], calls: list[Call]) -> None:
        url, model = key
        chunk = next(self._chunks)
        parts = []
        for call in calls:
            call.custom_id = f"{self._job_id[-12:]}-{chunk}-{next(self._ids)}"
            head = f'{{"custom_id":"{call.custom_id}","method":"POST","url":"{url}","body":'
            parts.append(head.encode() + call.body + b"}")
        data = b"\n".join(parts) + b"\n"
        spec = {"endpoint": url, "window": self.window, "metadata": {"dw_autobatch": self.name}}
        try:
            upload = self._client.upload_file(data, filename=f"autobatch-{self.name}-{chunk}.jsonl")
            self._registry.record_file(self._job_id, 0, chunk, upload["id"])
            tag = create.batch_tag(self._job_id, 0, chunk)
            batch = create.create_batch(self._client, upload["id"], spec, tag)
            self._registry.record_batch(self._job_id, 0, chunk, batch["id"], batch["status"])
        except DwError as exc:
            self.stats.last_error = str(exc)
            error = _answers.from_dw_error(self._client.base_url, url, exc)
            self._settle([(c, None, error) for c in calls])
            return
        flight = _InFlight(
            url, model, {c.custom_id: c for c in calls},
            {c.custom_id: i + 1 for i, c in enumerate(calls)}, batch=batch,
        )  # fmt: skip
        with self._cond:
            if self._stopping:  # closed meanwhile: the batch runs on; collect() it later
                closed = "the autobatch client was closed first; collect() the answer later"
                self._settle([(c, None, _answers.plain_error(self._client.base_url, url, closed))
                              for c in calls])  # fmt: skip
                return
            self._inflight[batch["id"]] = flight
            self.stats.batches += 1
            self.stats.in_flight_batches += 1
            self.stats.in_flight_calls += len(calls)
            self._next_poll = min(self._next_poll, time.monotonic() + self.poll_interval)

    def _poll(self) -> None:
        """One look at every batch in flight: one listing where it shows them all (newest
        first), a GET for each it does not. Where a 404 is not proof (``trust_404`` False), a
        batch is lost only when the listing answered without it too."""
        if self.busy is not None and self.busy.waiting("GET"):
            return  # polls were refused: asked again once the service's Retry-After has passed
        wanted = {i: f for i, f in list(self._inflight.items()) if not f.finishing}
        seen: dict[str, dict[str, Any]] = {}
        listed = False
        if len(wanted) > 1 or (wanted and not self.trust_404):
            try:
                page = self._client.list_batches(
                    limit=min(100, len(wanted) + 10), analytics=True, wait_refusals=False
                )
                for batch in page["data"]:
                    if batch["id"] in wanted:
                        seen[batch["id"]] = batch
                listed = True
            except DwError as exc:
                self.stats.last_error = str(exc)
        for batch_id, flight in wanted.items():
            batch = seen.get(batch_id)
            if batch is None:
                try:
                    batch = self._client.get_batch(batch_id, wait_refusals=False)
                except NotFoundError as exc:
                    if not (self.trust_404 or listed):  # Doubleword: any storage error is 404
                        self.stats.last_error = cannot_see(batch_id, self._client.base_url, exc)
                        continue
                    flight.misses += 1
                    if flight.misses >= LOST_AFTER:  # not a blip: waiting would never end
                        self._lose(batch_id, flight)
                    continue
                except DwError as exc:  # the service is failing: try them all at the next poll
                    self.stats.last_error = str(exc)
                    break
            flight.misses = 0
            flight.batch = batch
            self._add_cost(flight, batch)
            if batch["status"] in wire.TERMINAL_STATUSES:
                self._registry.record_status(batch_id, batch["status"])
                flight.finishing = True
                self._pool.submit(self._finish_safely, batch_id, flight)

    def _lose(self, batch_id: str, flight: _InFlight) -> None:
        """Fail the calls of a batch the service no longer has."""
        reason = f"the service no longer has batch {batch_id}; its calls' answers cannot be read"
        error = _answers.plain_error(self._client.base_url, flight.url, reason)
        self._end(batch_id, [(call, None, error) for call in flight.calls.values()])

    def _end(self, batch_id: str, results: list[tuple[Call, Any, Exception | None]]) -> None:
        """A batch is no longer in flight: settle its calls."""
        with self._cond:
            self._inflight.pop(batch_id, None)
            self.stats.in_flight_batches -= 1
            self.stats.in_flight_calls -= len(results)
            self._cond.notify_all()
        self._settle(results)

    def _finish_safely(self, batch_id: str, flight: _InFlight) -> None:
        try:
            self._finish(batch_id, flight)
        except Exception as exc:
            log.exception("dw-notebook autobatch: reading batch %s failed", batch_id)
            self.stats.last_error = str(exc)
        finally:
            flight.finishing = False  # a batch not finished is read again at the next poll

    def _add_cost(self, flight: _InFlight, batch: dict[str, Any]) -> None:
        """The batch's cost so far: the service's (Doubleword's analytics, read once it ended
        where the list did not carry them), else its usage at the known price."""
        if batch["status"] in wire.TERMINAL_STATUSES and batch_figures(batch)[0] is None:
            try:
                batch["analytics"] = self._client.batch_analytics(batch["id"])
            except DwError:
                pass  # no analytics route (OpenAI), or not now: no figure for this batch
        tokens_in, tokens_out, usd = batch_figures(batch)
        price = price_for(flight.model, self.window)
        if not usd and (tokens_in is None or tokens_out is None or price is None):
            return
        if not usd:
            usd = (tokens_in * price.input + tokens_out * price.output) / 1e6  # type: ignore
        self.stats.cost_usd = (self.stats.cost_usd or 0.0) + usd - flight.usd
        flight.usd = usd

    def _finish(self, batch_id: str, flight: _InFlight) -> None:
        """Answer every call of an ended batch from its output and error files."""
        base, batch = self._client.base_url, flight.batch
        files, gone = [], []
        for file_id in (batch.get("output_file_id"), batch.get("error_file_id")):
            if file_id:
                try:
                    files.append(self._client.file_content(file_id).data)
                except NotFoundError as exc:  # deleted or expired: waiting would never end
                    if not self.trust_404 and self._unreadable(batch_id):
                        self.stats.last_error = cannot_see(batch_id, self._client.base_url, exc)
                        return  # a read outage (the batch reads 404 too): read again later
                    gone.append(file_id)
                except DwError as exc:
                    self.stats.last_error = str(exc)
                    return  # read again at the next poll
        results = []
        for data in files:
            for raw in data.splitlines():
                if raw.strip():
                    line = orjson.loads(raw)
                    call = flight.calls.pop(line.get("custom_id"), None)
                    if call is not None:
                        results.append((call, *_answers.from_line(base, flight.url, line)))
        for cid, call in flight.calls.items():  # no line: the batch's own failure
            if gone:
                error = _answers.files_gone(base, flight.url, gone, batch_id)
            else:
                error = _answers.batch_failure(base, flight.url, batch, flight.lines.get(cid))
            results.append((call, None, error))
        self._end(batch_id, results)

    def _unreadable(self, batch_id: str) -> bool:
        """True when the batch itself reads 404 now (Doubleword: a storage error)."""
        try:
            self._client.get_batch(batch_id, wait_refusals=False)
        except NotFoundError:
            return True
        except DwError:
            return False
        return False

    def _settle(self, results: list[tuple[Call, Any, Exception | None]]) -> None:
        """Resolve futures: thread futures at once, asyncio futures in one callback per loop."""
        by_loop: dict[Any, list] = {}
        failed = sum(1 for _, _, error in results if error is not None)
        with self._cond:  # several threads settle at once
            self.stats.answered += len(results) - failed
            self.stats.failed += failed
        for call, value, error in results:
            if call.loop is None:
                if not call.future.done():
                    _set(call.future, value, error)
            else:
                by_loop.setdefault(call.loop, []).append((call.future, value, error))
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle_all, items)
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass


def _set(future: Any, value: Any, error: Exception | None) -> None:
    if error is None:
        future.set_result(value)
    else:
        future.set_exception(error)


def _settle_all(items: list[tuple[asyncio.Future, Any, Exception | None]]) -> None:
    for future, value, error in items:
        if not future.done():
            _set(future, value, error)
