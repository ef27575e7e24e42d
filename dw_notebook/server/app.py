"""HTTP routes of the local Batch API (starlette)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import anyio
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dw_notebook import wire
from dw_notebook.server import estimate, prices
from dw_notebook.server.clock import Clock
from dw_notebook.server.dialects import Dialect
from dw_notebook.server.faults import KINDS, Faults
from dw_notebook.server.files import FileStore, safe_id, slice_lines
from dw_notebook.server.gate import Gate
from dw_notebook.server.runner import Runner
from dw_notebook.server.store import TERMINAL, Store
from dw_notebook.server.upload import UploadError, receive_upload
from dw_notebook.server.validation import SERVED, parse_file

FILE_TTL = 30 * 24 * 3600


@dataclass
class Ctx:
    """Everything the routes need."""

    store: Store
    files: FileStore
    runner: Runner
    dialect: Dialect
    clock: Clock
    faults: Faults
    max_file_bytes: int = wire.MAX_FILE_BYTES


def create_app(ctx: Ctx, token: str, admin_token: str) -> Gate:
    """The ASGI app: routes behind the auth and fault gate."""
    d = ctx.dialect

    def not_found(kind: str, ident: str) -> Response:
        if d.name == "openai":
            return d.error(404, f"No such {kind} object: {ident}", None, "id")
        return d.error(404, f"{kind} not found")

    def bad(message: str, param: str | None = None) -> Response:
        return d.error(400, message, "invalid_request_error" if param else None, param)

    def limit_arg(request: Request, default: int, top: int) -> int | Response:
        raw = request.query_params.get("limit")
        if raw is None:
            return default
        if not raw.isdigit() or not 1 <= int(raw) <= top:
            return bad(f"limit must be an integer between 1 and {top}", "limit")
        return int(raw)

    def page(items: list[dict], has_more: bool) -> Response:
        return d.json(
            {
                "object": "list",
                "data": items,
                "first_id": items[0]["id"] if items else None,
                "last_id": items[-1]["id"] if items else None,
                "has_more": has_more,
            }
        )

    def file_row(request: Request) -> dict | None:
        fid = request.path_params["file_id"]
        return ctx.store.get_file(fid) if safe_id(fid) else None

    # files
    async def upload(request: Request) -> Response:
        fid = d.file_id()
        dest = ctx.files.path(fid)
        try:
            filename, fields, size = await receive_upload(request, dest, ctx.max_file_bytes)
        except UploadError as exc:
            return d.error(exc.status, exc.message)
        purpose = fields.get("purpose", "")
        if purpose != "batch":
            dest.unlink(missing_ok=True)
            return bad("purpose must be 'batch'", "purpose")
        if d.validate_at_upload:
            parsed = await anyio.to_thread.run_sync(parse_file, dest, None, False)
            if parsed.errors:
                dest.unlink(missing_ok=True)
                text = "\n".join(
                    (f"Line {e['line']}: " if e["line"] else "") + e["message"]
                    for e in parsed.errors[:20]
                )
                return d.error(400, text)
        now = ctx.clock.now()
        row = {
            "id": fid,
            "filename": filename,
            "purpose": purpose,
            "bytes": size,
            "created_at": now,
            "expires_at": now + FILE_TTL,
            "status": "processed",
        }
        ctx.store.insert_file(row)
        return d.json(d.file_object(ctx.store.get_file(fid)), d.create_status)

    async def list_files(request: Request) -> Response:
        limit = limit_arg(request, 10000, 10000)
        if isinstance(limit, Response):
            return limit
        order = request.query_params.get("order", "desc")
        if order not in ("asc", "desc"):
            return bad("order must be 'asc' or 'desc'", "order")
        rows, more = ctx.store.list_files(
            request.query_params.get("after"),
            limit,
            request.query_params.get("purpose"),
            order == "asc",
        )
        return page([d.file_object(r) for r in rows], more)

    async def get_file(request: Request) -> Response:
        row = file_row(request)
        if row is None:
            return not_found("File", request.path_params["file_id"])
        return d.json(d.file_object(row))

    async def delete_file(request: Request) -> Response:
        row = file_row(request)
        if row is None:
            return not_found("File", request.path_params["file_id"])
        for b in ctx.store.active_batches():
            if row["id"] in (b["input_file_id"], b["out_id"], b["err_id"]):
                return d.error(409, "The file is in use by a batch that has not finished.")
        ctx.store.delete_file(row["id"])
        ctx.files.delete(row["id"])
        return d.json({"id": row["id"], "object": "file", "deleted": True})

    async def file_content(request: Request) -> Response:
        row = file_row(request)
        if row is None:
            return not_found("File", request.path_params["file_id"])
        batch = ctx.store.batch_by_file(row["id"])
        size = None
        running = False
        if batch is not None:
            if batch["status"] == wire.VALIDATING and d.files_from_creation:
                return d.error(404, "File content not available yet")
            size = batch["out_bytes"] if batch["out_id"] == row["id"] else batch["err_bytes"]
            running = batch["status"] not in TERMINAL
        data = await anyio.to_thread.run_sync(ctx.files.read, row["id"], size)
        if d.name == "openai":
            return Response(data, media_type="application/octet-stream")
        q = request.query_params
        skip_raw, limit_raw = q.get("skip", q.get("offset", "0")), q.get("limit")
        if not skip_raw.isdigit() or (limit_raw is not None and not limit_raw.isdigit()):
            return bad("skip and limit must be non-negative integers")
        skip = int(skip_raw)
        limit = int(limit_raw) if limit_raw is not None else None
        body, count, total = slice_lines(data, skip, limit)
        last = min(skip, total) + count
        headers = {
            "X-Incomplete": "true" if running or last < total else "false",
            "X-Last-Line": str(last),
        }
        return Response(body, headers=headers, media_type="application/x-ndjson")

    async def cost_estimate(request: Request) -> Response:
        row = file_row(request)
        if row is None:
            return not_found("File", request.path_params["file_id"])
        window = request.query_params.get("completion_window", "24h")
        if window not in wire.COMPLETION_WINDOWS:
            return bad("completion_window must be '24h' or '1h'", "completion_window")
        result = await anyio.to_thread.run_sync(
            estimate.estimate_file, ctx.files.path(row["id"]), row["id"], window
        )
        return d.json(result)

    # batches
    async def create_batch(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return bad("The body must be JSON.")
        if not isinstance(body, dict):
            return bad("The body must be a JSON object.")
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
                return bad(f"Missing required parameter: '{name}'.", name)
        if endpoint not in SERVED:
            return bad(f"endpoint must be one of {', '.join(SERVED)}", "endpoint")
        windows = ("24h",) if d.name == "openai" else tuple(wire.COMPLETION_WINDOWS)
        if window not in windows:
            return bad(
                f"completion_window must be one of {', '.join(windows)}", "completion_window"
            )
        if metadata is not None and not (
            isinstance(metadata, dict)
            and len(metadata) <= 16
            and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
        ):
            return bad("metadata must map at most 16 string keys to string values", "metadata")
        source = ctx.store.get_file(input_id) if safe_id(input_id) else None
        if source is None:
            return not_found("File", input_id)
        if source["purpose"] != "batch":
            return bad("The input file must have purpose 'batch'.", "input_file_id")
        if d.validate_at_upload:
            parsed = await anyio.to_thread.run_sync(
                parse_file, ctx.files.path(input_id), endpoint, False
            )
            wrong = [e for e in parsed.errors if e["param"] == "url"]
            if wrong:
                return d.error(
                    400, "\n".join(f"Line {e['line']}: {e['message']}" for e in wrong[:20])
                )
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
            "metadata": orjson.dumps(metadata).decode() if metadata else None,
        }
        if d.files_from_creation:
            row.update(output_file_id=out_id, error_file_id=err_id)
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
        return d.json(d.batch_object(ctx.store.get_batch(bid)), d.create_status)

    def batch_row(request: Request) -> dict | None:
        bid = request.path_params["batch_id"]
        return ctx.store.get_batch(bid) if safe_id(bid) else None

    async def get_batch(request: Request) -> Response:
        row = batch_row(request)
        if row is None:
            return not_found("Batch", request.path_params["batch_id"])
        return d.json(d.batch_object(row))

    async def list_batches(request: Request) -> Response:
        limit = limit_arg(request, 20, 100)
        if isinstance(limit, Response):
            return limit
        rows, more = ctx.store.list_batches(request.query_params.get("after"), limit)
        return page([d.batch_object(r) for r in rows], more)

    async def cancel_batch(request: Request) -> Response:
        for _ in range(5):
            row = batch_row(request)
            if row is None:
                return not_found("Batch", request.path_params["batch_id"])
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
        return d.json(d.batch_object(ctx.store.get_batch(row["id"])))

    async def retry_batch(request: Request) -> Response:
        row = batch_row(request)
        if row is None:
            return not_found("Batch", request.path_params["batch_id"])
        if row["status"] in (wire.CANCELLING, wire.CANCELLED):
            return d.error(409, "Cannot retry a cancelled batch.")
        await asyncio.wrap_future(ctx.runner.call(lambda: ctx.runner.retry_failed(row["id"])))
        return d.json(d.batch_object(ctx.store.get_batch(row["id"])))

    async def models(request: Request) -> Response:
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "local"}
            for m in prices.MODEL_IDS
        ]
        return d.json({"object": "list", "data": data})

    # admin
    async def admin_faults(request: Request) -> Response:
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
        try:
            seconds = float(orjson.loads(await request.body())["seconds"])
            now = ctx.clock.advance(seconds)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            return Response(f"bad clock request: {e}", 400)
        return Response(orjson.dumps({"now": now}), media_type="application/json")

    v = wire.API_PREFIX
    routes = [
        Route(f"{v}/files", upload, methods=["POST"]),
        Route(f"{v}/files", list_files, methods=["GET"]),
        Route(f"{v}/files/{{file_id}}", get_file, methods=["GET"]),
        Route(f"{v}/files/{{file_id}}", delete_file, methods=["DELETE"]),
        Route(f"{v}/files/{{file_id}}/content", file_content, methods=["GET"]),
        Route(f"{v}/batches", create_batch, methods=["POST"]),
        Route(f"{v}/batches", list_batches, methods=["GET"]),
        Route(f"{v}/batches/{{batch_id}}", get_batch, methods=["GET"]),
        Route(f"{v}/batches/{{batch_id}}/cancel", cancel_batch, methods=["POST"]),
        Route(f"{v}/models", models, methods=["GET"]),
        Route("/admin/faults", admin_faults, methods=["GET", "POST", "DELETE"]),
        Route("/admin/clock/advance", admin_clock, methods=["POST"]),
    ]
    if d.name == "doubleword":
        routes += [
            Route(f"{v}/files/{{file_id}}/cost-estimate", cost_estimate, methods=["GET"]),
            Route(f"{v}/batches/{{batch_id}}/retry", retry_batch, methods=["POST"]),
        ]
    return Gate(Starlette(routes=routes), d, token, admin_token, ctx.faults)
