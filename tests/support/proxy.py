"""An HTTP proxy on loopback between the client and a server, with faults per route.

For faults the local server cannot produce itself: an answer withheld after the work was done,
a connection cut after the request went through, a body in another server's shape.

>>> with FaultProxy(server.base_url) as proxy:              # doctest: +SKIP
...     proxy.drop("POST", "/batches")                        # forward, then cut the answer
...     job = dw.submit(df, ..., base_url=proxy.base_url, api_key=server.token)
...     proxy.count("POST", "/batches")

Rules match a method and a regular expression searched in the path (without the base path);
the newest matching rule with uses left applies, and ``times=None`` means every time.
Actions: ``forward`` (the default), ``drop`` (forward, then cut the connection mid-answer),
``hold`` (forward, then keep the answer back for ``seconds`` and cut), ``delay`` (wait, then
forward), ``answer`` (answer without forwarding) and ``rewrite`` (forward, then change the
answer with a function).
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import uvicorn

_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


@dataclass
class Reply:
    """An answer as the proxy sends it; rewrite functions take and return one."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        import orjson

        return orjson.loads(self.body)


@dataclass
class Rule:
    method: str
    path: re.Pattern[str]
    action: str
    times: int | None = 1
    seconds: float = 0.0
    forward: bool = True
    reply: Reply | None = None
    change: Callable[[Reply, str], Reply] | None = None
    hits: int = 0
    skip: int = 0  # matching requests let through untouched before the rule applies
    passed: int = 0

    def matches(self, method: str, path: str) -> bool:
        left = self.times is None or self.hits < self.times
        return left and method == self.method and bool(self.path.search(path))


@dataclass
class Seen:
    method: str
    path: str
    query: str
    action: str
    status: int | None = None
    at: float = field(default_factory=time.time)
    headers: dict[str, str] = field(default_factory=dict)  # as the client sent them


class _Cut(Exception):
    """Raised after the answer has started, so the server closes the connection mid-answer."""


class FaultProxy:
    """A proxy for ``upstream`` (a base URL such as ``http://127.0.0.1:8000/v1``)."""

    def __init__(self, upstream: str, *, upstream_headers: dict[str, str] | None = None) -> None:
        """``upstream_headers`` are set on every forwarded request (e.g. the upstream's key, so
        the proxy stands for a server that needs none)."""
        self.upstream_headers = dict(upstream_headers or {})
        parts = urlsplit(upstream)
        self.upstream_origin = f"{parts.scheme}://{parts.netloc}"
        self.base_path = parts.path.rstrip("/")
        self.rules: list[Rule] = []
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(
            self._app, interface="asgi3", log_level="critical", lifespan="off", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.base_path}"

    # -- life ----------------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fault proxy did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- rules ---------------------------------------------------------------------------------

    def _add(self, method: str, path: str, action: str, **options: object) -> Rule:
        rule = Rule(method.upper(), re.compile(path), action, **options)  # type: ignore[arg-type]
        with self._lock:
            self.rules.append(rule)
        return rule

    def drop(
        self,
        method: str,
        path: str,
        *,
        times: int | None = 1,
        forward: bool = True,
        skip: int = 0,
    ) -> Rule:
        """Forward the request (unless ``forward=False``), then cut the connection mid-answer;
        ``skip`` lets that many matching requests through first."""
        return self._add(method, path, "drop", times=times, forward=forward, skip=skip)

    def hold(
        self, method: str, path: str, seconds: float, *, times: int | None = 1, skip: int = 0
    ) -> Rule:
        """Forward the request, then keep the answer back for ``seconds`` and cut; ``skip``
        lets that many matching requests through first."""
        return self._add(method, path, "hold", times=times, seconds=seconds, skip=skip)

    def delay(self, method: str, path: str, seconds: float, *, times: int | None = None) -> Rule:
        """Wait ``seconds``, then forward as usual."""
        return self._add(method, path, "delay", times=times, seconds=seconds)

    def answer(
        self,
        method: str,
        path: str,
        status: int,
        body: bytes | str = b"",
        headers: dict[str, str] | None = None,
        *,
        times: int | None = 1,
    ) -> Rule:
        """Answer without forwarding (an error page, a 429 storm, a captive portal)."""
        data = body.encode() if isinstance(body, str) else body
        reply = Reply(status, dict(headers or {}), data)
        return self._add(method, path, "answer", times=times, reply=reply)

    def rewrite(
        self,
        method: str,
        path: str,
        change: Callable[[Reply, str], Reply],
        *,
        times: int | None = None,
        seconds: float = 0.0,
    ) -> Rule:
        """Forward (``seconds`` later), then send ``change(reply, path)`` instead of the
        server's answer."""
        return self._add(method, path, "rewrite", times=times, change=change, seconds=seconds)

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def count(self, method: str, path: str = "") -> int:
        """Requests seen with this method whose path matches ``path`` (a regular expression)."""
        pattern = re.compile(path)
        return sum(1 for s in self.seen if s.method == method.upper() and pattern.search(s.path))

    def answered_upstream(self, method: str, path: str = "", action: str | None = None) -> int:
        """Requests the upstream server has answered (whatever the client got), optionally only
        those a rule with ``action`` handled: e.g. a held create that the server did carry out."""
        pattern = re.compile(path)
        return sum(
            1
            for s in self.seen
            if s.method == method.upper()
            and pattern.search(s.path)
            and s.status is not None
            and (action is None or s.action == action)
        )

    def wait_for(
        self, condition: Callable[[], object], timeout: float = 30.0, what: str = "condition"
    ) -> None:
        """Block until ``condition()`` is true (e.g. a held answer reached the proxy)."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the fault proxy never saw: {what}")
            time.sleep(0.01)

    def _rule_for(self, method: str, path: str) -> Rule | None:
        with self._lock:
            for rule in reversed(self.rules):
                if rule.matches(method, path):
                    if rule.passed < rule.skip:
                        rule.passed += 1
                        return None
                    rule.hits += 1
                    return rule
        return None

    # -- the ASGI app ----------------------------------------------------------------------------

    async def _app(self, scope: dict, receive: Callable, send: Callable) -> None:
        assert scope["type"] == "http"
        method = scope["method"]
        full_path = scope["path"]
        inside = full_path.startswith(self.base_path)
        path = full_path[len(self.base_path) :] if inside else full_path
        query = scope.get("query_string", b"").decode()
        rule = self._rule_for(method, path)
        seen = Seen(method, path, query, rule.action if rule else "forward")
        seen.headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.seen.append(seen)
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if rule and rule.action == "answer":
            assert rule.reply is not None
            seen.status = rule.reply.status
            await _send(send, rule.reply)
            return
        if rule and rule.action in ("delay", "rewrite"):
            await asyncio.sleep(rule.seconds)
        if rule and rule.action == "drop" and not rule.forward:
            await _cut(send)
            return
        headers = [
            (k.decode(), v.decode()) for k, v in scope["headers"] if k.decode().lower() not in _HOP
        ]
        if self.upstream_headers:
            wanted = {k.lower() for k in self.upstream_headers}
            headers = [(k, v) for k, v in headers if k.lower() not in wanted]
            headers += list(self.upstream_headers.items())
        url = self.upstream_origin + full_path + (f"?{query}" if query else "")
        async with httpx.AsyncClient(timeout=120) as client:
            upstream = await client.request(method, url, headers=headers, content=body)
        reply = Reply(
            upstream.status_code,
            {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP},
            upstream.content,
        )
        seen.status = reply.status
        if rule and rule.action == "drop":
            await _cut(send)
            return
        if rule and rule.action == "hold":
            # until the time is up or the client is gone (killed), whichever comes first
            try:
                await asyncio.wait_for(_disconnect(receive), rule.seconds)
            except TimeoutError:
                pass
            await _cut(send)
            return
        if rule and rule.action == "rewrite":
            assert rule.change is not None
            reply = rule.change(reply, path)
        await _send(send, reply)


async def _disconnect(receive: Callable) -> None:
    """Return when the client closes its connection."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _send(send: Callable, reply: Reply) -> None:
    headers = [(k.encode(), v.encode()) for k, v in reply.headers.items()
               if k.lower() not in _HOP and k.lower() != "content-encoding"]  # fmt: skip
    headers.append((b"content-length", str(len(reply.body)).encode()))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})


async def _cut(send: Callable) -> None:
    """Start an answer that promises a body, send part of it, and fail: uvicorn then closes the
    connection, and the client sees the answer cut off."""
    headers = [(b"content-length", b"1000"), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"{", "more_body": True})
    raise _Cut("connection cut by the fault proxy")
