"""Admin routes (admin token only): the fault switchboard, the clock and cleanup, over HTTP."""

from __future__ import annotations

import asyncio
import dataclasses

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dw_notebook.server.context import Ctx
from dw_notebook.server.faults import KINDS


async def admin_faults(request: Request) -> Response:
    """GET lists, POST adds, DELETE clears fault rules."""
    ctx: Ctx = request.app.state.ctx
    if request.method == "DELETE":
        ctx.faults.clear()
    elif request.method == "POST":
        try:
            spec = orjson.loads(await request.body())
            kind = spec.pop("kind")
            if kind not in KINDS:
                raise ValueError(kind)
            rule = ctx.faults.inject(kind, **spec)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
            return Response(f"bad fault spec: {e}", 400)
        return Response(
            orjson.dumps({"id": rule.id, "kind": rule.kind}), 201, media_type="application/json"
        )
    return Response(
        orjson.dumps({"rules": ctx.faults.rules(), "fired": ctx.faults.fired}),
        media_type="application/json",
    )


async def admin_clock(request: Request) -> Response:
    """POST ``{"seconds": n}`` moves the server clock forward."""
    ctx: Ctx = request.app.state.ctx
    try:
        seconds = float(orjson.loads(await request.body())["seconds"])
        now = ctx.clock.advance(seconds)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        return Response(f"bad clock request: {e}", 400)
    return Response(orjson.dumps({"now": now}), media_type="application/json")


async def admin_cleanup(request: Request) -> Response:
    """POST ``{"older_than": seconds}`` deletes finished batches and unused files (as
    ``LocalServer.cleanup``), for another process sharing this server."""
    ctx: Ctx = request.app.state.ctx
    try:
        older_than = float(orjson.loads(await request.body() or b"{}").get("older_than", 0.0))
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError) as e:
        return Response(f"bad cleanup request: {e}", 400)
    cleaned = await asyncio.wrap_future(ctx.runner.call(lambda: ctx.runner.cleanup(older_than)))
    return Response(orjson.dumps(dataclasses.asdict(cleaned)), media_type="application/json")


def routes() -> list[Route]:
    return [
        Route("/admin/faults", admin_faults, methods=["GET", "POST", "DELETE"]),
        Route("/admin/clock/advance", admin_clock, methods=["POST"]),
        Route("/admin/cleanup", admin_cleanup, methods=["POST"]),
    ]
