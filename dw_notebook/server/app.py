"""The ASGI app: the routes of one dialect behind the auth and fault gate."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from dw_notebook.server import routes_admin, routes_batches, routes_files
from dw_notebook.server.context import Ctx
from dw_notebook.server.gate import Gate
from dw_notebook.server.upload import BodyTimeout


def _stalled(request: Request, exc: Exception) -> Response:
    """408 for a body that stopped arriving; the connection is closed after it."""
    resp = request.app.state.ctx.dialect.error(408, str(exc))
    resp.headers["Connection"] = "close"
    return resp


def create_app(ctx: Ctx, token: str, admin_token: str) -> Gate:
    """Build the app; ``token`` guards ``/v1``, ``admin_token`` guards ``/admin``."""
    doubleword = ctx.dialect.name == "doubleword"
    app = Starlette(
        routes=[
            *routes_files.routes(doubleword),
            *routes_batches.routes(doubleword),
            *routes_admin.routes(),
        ],
        exception_handlers={BodyTimeout: _stalled},
    )
    app.state.ctx = ctx
    return Gate(app, ctx.dialect, token, admin_token, ctx.faults, ctx.upload_timeout)
