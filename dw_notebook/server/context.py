"""What every route shares: the server's parts and the dialect's standard replies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps

from starlette.requests import Request
from starlette.responses import Response

from dw_notebook import wire
from dw_notebook.server.clock import Clock
from dw_notebook.server.dialects import Dialect
from dw_notebook.server.faults import Faults
from dw_notebook.server.files import FileStore, safe_id
from dw_notebook.server.runner import Runner
from dw_notebook.server.store import Store
from dw_notebook.server.upload import IDLE_TIMEOUT

FILE_TTL = 30 * 24 * 3600


@dataclass
class Ctx:
    """The server's parts, reachable from a route as ``request.app.state.ctx``."""

    store: Store
    files: FileStore
    runner: Runner
    dialect: Dialect
    clock: Clock
    faults: Faults
    max_file_bytes: int = wire.MAX_FILE_BYTES
    upload_timeout: float = IDLE_TIMEOUT  # seconds an upload body may stall

    def not_found(self, kind: str, ident: str) -> Response:
        return self.dialect.not_found(kind, ident)

    def bad(self, message: str, param: str | None = None, code: str | None = None) -> Response:
        """A 400 answer; OpenAI names the offending ``param`` and a code such as
        ``invalid_value`` (the default when a param is named) or ``missing_required_parameter``."""
        return self.dialect.error(400, message, code or ("invalid_value" if param else None), param)

    def limit_arg(self, request: Request, default: int, top: int) -> int | Response:
        """The ``limit`` query parameter, or a 400 reply."""
        raw = request.query_params.get("limit")
        if raw is None:
            return default
        if not raw.isdigit() or not 1 <= int(raw) <= top:
            return self.bad(f"limit must be an integer between 1 and {top}", "limit")
        return int(raw)

    def page(self, items: list[dict], has_more: bool) -> Response:
        """A list page: ``{"object": "list", "data", "first_id", "last_id", "has_more"}``."""
        return self.dialect.json(
            {
                "object": "list",
                "data": items,
                "first_id": items[0]["id"] if items else None,
                "last_id": items[-1]["id"] if items else None,
                "has_more": has_more,
            }
        )


RowHandler = Callable[[Request, Ctx, dict], Awaitable[Response]]
Handler = Callable[[Request], Awaitable[Response]]


def _with_row(kind: str, key: str) -> Callable[[RowHandler], Handler]:
    def decorate(handler: RowHandler) -> Handler:
        @wraps(handler)
        async def route(request: Request) -> Response:
            ctx: Ctx = request.app.state.ctx
            ident = request.path_params[key]
            lookup = ctx.store.get_file if kind == "File" else ctx.store.get_batch
            row = lookup(ident) if safe_id(ident) else None
            if row is None:
                return ctx.not_found(kind, ident)
            return await handler(request, ctx, row)

        return route

    return decorate


with_file = _with_row("File", "file_id")
"""Route decorator: the handler gets ``(request, ctx, file_row)``; unknown ids answer 404."""
with_batch = _with_row("Batch", "batch_id")
"""Route decorator: the handler gets ``(request, ctx, batch_row)``; unknown ids answer 404."""
