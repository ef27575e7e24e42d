"""Routes under /batches, and /models."""

from __future__ import annotations

import asyncio

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dw_notebook import wire
from dw_notebook.server import dw_batches, dw_objects, prices
from dw_notebook.server.context import FILE_TTL, Ctx, with_batch
from dw_notebook.server.files import safe_id
from dw_notebook.server.store import TERMINAL
from dw_notebook.server.validation import SERVED


def _metadata_problem(metadata: object) -> tuple[str, str, str] | None:
    """(message, param, code) for metadata OpenAI would refuse, naming the offending key."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        kind = type(metadata).__name__
        return (
            f"Invalid type for 'metadata': expected an object, but got {kind}.",
            "metadata",
            ("invalid_type"),
        )
    if len(metadata) > 16:
        return "metadata can have at most 16 keys.", "metadata", "invalid_value"
    for key, value in metadata.items():
        param = f"metadata.{key}"
        if len(key) > 64:
            return (
                f"Invalid '{param}': the key is longer than 64 characters.",
                param,
                ("invalid_value"),
            )
        if not isinstance(value, str):
            kind = {list: "an array", dict: "an object", bool: "a boolean"}.get(
                type(value), "a number" if isinstance(value, int | float) else "null"
            )
            return (
                f"Invalid type for '{param}': expected a string, but got {kind} instead.",
                param,
                "invalid_type",
            )
        if len(value) > 512:
            return f"Invalid '{param}': longer than 512 characters.", param, "invalid_value"
    return None


async def create_batch(request: Request) -> Response:
    """POST /batches."""
    ctx: Ctx = request.app.state.ctx
    d = ctx.dialect
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return ctx.bad("The body must be JSON.")
    if not isinstance(body, dict):
        return ctx.bad("The body must be a JSON object.")
    if d.name == "doubleword" and (problem := dw_batches.create_problem(body)):
        return d.error(*problem)
    input_id = body.get("input_file_id")
    endpoint = body.get("endpoint")
    window = body.get("completion_window")
    metadata = body.get("metadata")
    for name, value in (
        ("input_file_id", input_id),
        ("endpoint", endpoint),
        ("completion_window", window),
    ):
        if not isinstance(value, str) or not value:
            return ctx.bad(
                f"Missing required parameter: '{name}'.", name, "missing_required_parameter"
            )
    if endpoint not in SERVED:
        return ctx.bad(f"endpoint must be one of {', '.join(SERVED)}", "endpoint")
    windows = ("24h",) if d.name == "openai" else tuple(wire.COMPLETION_WINDOWS)
    if window not in windows:
        return ctx.bad(
            f"completion_window must be one of {', '.join(windows)}", "completion_window"
        )
    if d.name == "openai" and (problem := _metadata_problem(metadata)) is not None:
        return ctx.bad(*problem)
    source = ctx.store.get_file(input_id) if safe_id(input_id) else None
    if source is None:
        return ctx.not_found("File", input_id)
    if source["purpose"] != "batch":
        return ctx.bad("The input file must have purpose 'batch'.", "input_file_id")
    now = ctx.clock.now()
    bid = d.batch_id()
    out_id, err_id = d.file_id(), d.file_id()
    row = {
        "id": bid,
        "endpoint": endpoint,
        "input_file_id": input_id,
        "completion_window": window,
        "status": wire.VALIDATING,
        "out_id": out_id,
        "err_id": err_id,
        "created_at": now,
        "expires_at": now + wire.COMPLETION_WINDOWS[window],
        "metadata": dw_batches.stored_metadata(metadata)
        if d.name == "doubleword"
        else (orjson.dumps(metadata).decode() if metadata else None),
    }
    if d.files_from_creation:
        # Doubleword counts the file's requests at create, before population
        row.update(output_file_id=out_id, error_file_id=err_id, total=source["requests"] or 0)
        for fid, kind in ((out_id, "output"), (err_id, "error")):
            ctx.files.create_empty(fid)
            ctx.store.insert_file(
                {
                    "id": fid,
                    "filename": f"batch-{bid}-{kind}.jsonl",
                    "purpose": f"batch_{kind}",
                    "bytes": 0,
                    "created_at": now,
                    "expires_at": now + FILE_TTL,
                    "status": "processed",
                    "batch_id": bid,
                }
            )
    ctx.store.insert_batch(row)
    ctx.runner.wake()
    return d.json(d.batch_object(ctx.store.get_batch(bid), ctx.clock.now()), d.create_status)


@with_batch
async def get_batch(request: Request, ctx: Ctx, row: dict) -> Response:
    """GET /batches/{id}."""
    d = ctx.dialect
    return d.json(d.batch_object(row, ctx.clock.now()))


async def list_batches(request: Request) -> Response:
    """GET /batches: newest first, ``after`` and ``limit`` (Doubleword: also ``search``,
    ``active_first`` and ``include=analytics``)."""
    ctx: Ctx = request.app.state.ctx
    d = ctx.dialect
    if d.name == "doubleword":
        args = dw_batches.list_args(request.query_params)
        if isinstance(args, str):
            return d.error(400, args)
        rows, more = ctx.store.search_batches(*args)
    else:
        limit = ctx.limit_arg(request, 20, 100)
        if isinstance(limit, Response):
            return limit
        rows, more = ctx.store.list_batches(request.query_params.get("after"), limit)
    now = ctx.clock.now()
    data = [d.batch_object(r, now) for r in rows]
    includes = {x.strip() for x in request.query_params.get("include", "").split(",")}
    if d.name == "doubleword" and "analytics" in includes:
        for obj, r in zip(data, rows, strict=True):
            obj["analytics"] = dw_objects.analytics(r)
    return ctx.page(data, more)


@with_batch
async def batch_analytics(request: Request, ctx: Ctx, row: dict) -> Response:
    """GET /batches/{id}/analytics (Doubleword): tokens and cost of the 2xx answers so far."""
    return ctx.dialect.json(dw_objects.analytics(row))


def _cancel_doubleword(request: Request, ctx: Ctx, row: dict) -> Response:
    """Doubleword: accepted on any batch, never 409; see ``Store.cancel_doubleword``. Requests
    the runner has in flight still complete afterwards (as with the late-completion fault)."""
    late = ctx.faults.take("POST", request.url.path, kinds=("late_completion",))
    now = ctx.clock.now()
    kept = ctx.store.cancel_doubleword(row["id"], now, late.requests if late else 0)
    if late and kept:
        ctx.runner.complete_late(now + late.delay, row["id"], kept)
    d = ctx.dialect
    return d.json(d.batch_object(ctx.store.get_batch(row["id"]), ctx.clock.now()))


@with_batch
async def cancel_batch(request: Request, ctx: Ctx, row: dict) -> Response:
    """POST /batches/{id}/cancel: to ``cancelling``; 409 once finished (OpenAI)."""
    d = ctx.dialect
    if d.name == "doubleword":
        return _cancel_doubleword(request, ctx, row)
    for _ in range(5):  # compare-and-set against the runner moving the batch on
        row = ctx.store.get_batch(row["id"])
        status = row["status"]
        if status in TERMINAL:
            return d.error(
                409,
                f"Cannot cancel a batch with status '{status}'.",
                "batch_not_cancellable" if d.name == "openai" else None,
            )
        if status == wire.CANCELLING:
            break
        if ctx.store.update_batch(
            row["id"], expect=status, status=wire.CANCELLING, cancelling_at=ctx.clock.now()
        ):
            break
    ctx.runner.wake()
    return d.json(d.batch_object(ctx.store.get_batch(row["id"]), ctx.clock.now()))


@with_batch
async def retry_batch(request: Request, ctx: Ctx, row: dict) -> Response:
    """POST /batches/{id}/retry (Doubleword only): rerun failed and canceled requests, and
    overturn a cancel (``batches.rs`` ``retry_failed_batch_requests``)."""
    d = ctx.dialect
    count = await asyncio.wrap_future(ctx.runner.call(lambda: ctx.runner.retry_failed(row["id"])))
    if count == 0 and row["cancelling_at"] is None:
        return d.error(
            400,
            "Nothing to retry: no failed or canceled requests, and the batch is not cancelled",
        )
    ctx.runner.wake()
    return d.json(d.batch_object(ctx.store.get_batch(row["id"]), ctx.clock.now()))


async def models(request: Request) -> Response:
    """GET /models."""
    ctx: Ctx = request.app.state.ctx
    d = ctx.dialect
    data = [
        {"id": m, "object": "model", "created": 0, "owned_by": "local"} for m in prices.MODEL_IDS
    ]
    return d.json({"object": "list", "data": data})


def routes(doubleword: bool) -> list[Route]:
    v = wire.API_PREFIX
    found = [
        Route(f"{v}/batches", create_batch, methods=["POST"]),
        Route(f"{v}/batches", list_batches, methods=["GET"]),
        Route(f"{v}/batches/{{batch_id}}", get_batch, methods=["GET"]),
        Route(f"{v}/batches/{{batch_id}}/cancel", cancel_batch, methods=["POST"]),
        Route(f"{v}/models", models, methods=["GET"]),
    ]
    if doubleword:
        found.append(Route(f"{v}/batches/{{batch_id}}/retry", retry_batch, methods=["POST"]))
        found.append(Route(f"{v}/batches/{{batch_id}}/analytics", batch_analytics, methods=["GET"]))
    return found
