"""ASGI middleware in front of the routes: bearer auth and the fault switchboard."""

from __future__ import annotations

import asyncio
import hmac
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dw_notebook.server.dialects import Dialect
from dw_notebook.server.faults import Faults, Rule
from dw_notebook.server.upload import BodyTimeout


class DroppedConnection(Exception):
    """Raised on purpose after half a body, so uvicorn closes the connection."""


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnection)


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


def _bearer(scope: Scope) -> str:
    for key, value in scope.get("headers", []):
        if key == b"authorization":
            text = value.decode("latin-1")
            return text[7:].strip() if text[:7].lower() == "bearer " else ""
    return ""


class Gate:
    """``/v1`` needs the API token, ``/admin`` the admin token; faults hit ``/v1`` only.

    A request body that stalls for ``body_timeout`` seconds (a large ``Content-Length`` and
    a tiny body) raises ``BodyTimeout`` in the route (answered 408, see ``app``), so no
    client holds a worker."""

    def __init__(
        self,
        app: ASGIApp,
        dialect: Dialect,
        token: str,
        admin_token: str,
        faults: Faults,
        body_timeout: float = 60.0,
    ) -> None:
        self.app, self.dialect, self.faults = app, dialect, faults
        self._token, self._admin = token.encode(), admin_token.encode()
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def timed_receive() -> Message:
            try:
                return await asyncio.wait_for(receive(), self.body_timeout)
            except TimeoutError:
                raise BodyTimeout(self.body_timeout) from None

        await self._serve(scope, timed_receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        wanted = self._admin if path.startswith("/admin") else self._token
        if not hmac.compare_digest(_bearer(scope).encode(), wanted):
            msg = "Incorrect API key provided." if self.dialect.name == "openai" else "Unauthorized"
            await self.dialect.error(401, msg, "invalid_api_key")(scope, receive, send)
            return
        rule = self.faults.take(scope["method"], path) if path.startswith("/v1") else None
        if rule is None:
            await self.app(scope, receive, send)
        else:
            await self._fault(rule, scope, receive, send)

    async def _fault(self, rule: Rule, scope: Scope, receive: Receive, send: Send) -> None:
        if rule.kind == "slow":
            await asyncio.sleep(rule.delay)
            await self.app(scope, receive, send)
        elif rule.kind == "rate_limit":
            resp = self.dialect.error(
                429,
                rule.message or "Rate limit reached; retry later.",
                "rate_limit_exceeded",
                retry_after=rule.retry_after,
            )
            await resp(scope, receive, send)
        elif rule.kind == "payment_required":
            resp = self.dialect.error(402, rule.message or "Insufficient credits.", "billing")
            await resp(scope, receive, send)
        elif rule.kind == "read_outage":
            parts = scope["path"].split("/")
            kind = "Batch" if parts[2] == "batches" else "File"
            await self.dialect.not_found(kind, parts[3])(scope, receive, send)
        elif rule.kind == "server_error":
            retry = rule.retry_after if rule.status == 503 else None
            resp = self.dialect.error(
                rule.status, "Injected server error.", None, retry_after=retry
            )
            await resp(scope, receive, send)
        else:
            await self.app(scope, receive, _half_then_drop(send))


def _half_then_drop(send: Send) -> Send:
    """A ``send`` that forwards headers and half the body, then breaks the connection."""
    start: list[Message] = []
    body = bytearray()

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.append(message)
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        body.extend(message.get("body", b""))
        if message.get("more_body"):
            return
        head = dict(start[0])
        headers = [(k, v) for k, v in head.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(max(len(body), 2)).encode()))
        head["headers"] = headers
        await send(head)
        await send(
            {"type": "http.response.body", "body": bytes(body[: len(body) // 2]), "more_body": True}
        )
        raise DroppedConnection("fault injected: connection dropped mid-body")

    return wrapped
