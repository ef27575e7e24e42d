"""The ASGI app: the routes of one dialect behind the auth and fault gate."""

from __future__ import annotations

from starlette.applications import Starlette

from dw_notebook.server import routes_admin, routes_batches, routes_files, routes_realtime
from dw_notebook.server.context import Ctx
from dw_notebook.server.gate import Gate
from dw_notebook.server.responses import Responses


def create_app(ctx: Ctx, token: str, admin_token: str) -> Gate:
    """Build the app; ``token`` guards ``/v1``, ``admin_token`` guards ``/admin``."""
    doubleword = ctx.dialect.name == "doubleword"
    app = Starlette(
        routes=[
            *routes_files.routes(doubleword),
            *routes_batches.routes(doubleword),
            *routes_realtime.routes(),
            *routes_admin.routes(),
        ]
    )
    app.state.ctx = ctx
    app.state.responses = Responses()
    return Gate(app, ctx.dialect, token, admin_token, ctx.faults)
