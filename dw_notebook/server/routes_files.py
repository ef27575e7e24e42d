"""Routes under /files: upload, retrieve, list, delete, content, cost estimate."""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dw_notebook import wire
from dw_notebook.server import dw_content, dw_upload, estimate, prices
from dw_notebook.server.context import FILE_TTL, Ctx, with_file
from dw_notebook.server.upload import UploadError, receive_upload


async def upload(request: Request) -> Response:
    """POST /files: stream the upload to disk (Doubleword: validate it now)."""
    ctx: Ctx = request.app.state.ctx
    d = ctx.dialect
    fid = d.file_id()
    dest = ctx.files.path(fid)
    try:
        filename, fields, size = await receive_upload(
            request, dest, ctx.max_file_bytes, ctx.upload_timeout
        )
    except UploadError as exc:
        if d.name == "doubleword" and exc.status == 413:
            exc.message = f"File exceeds the maximum allowed size of {ctx.max_file_bytes} bytes"
        return d.error(exc.status, exc.message)
    purpose = fields.get("purpose", "")
    if purpose != "batch":
        dest.unlink(missing_ok=True)
        if d.name == "doubleword":
            return d.error(400, f"Invalid purpose '{purpose}'. Only 'batch' is supported.")
        return ctx.bad("purpose must be 'batch'", "purpose")
    if d.name == "openai" and not filename.lower().endswith(".jsonl"):
        dest.unlink(missing_ok=True)
        return ctx.bad("Invalid file format for Batch API. Must be .jsonl", "file")
    urls, count = None, None
    if d.validate_at_upload:
        # the models the key may use: those /models lists (forward: the upstream's own)
        models = None if ctx.runner.backend.name == "forward" else prices.MODEL_IDS
        try:
            scanned = await anyio.to_thread.run_sync(dw_upload.scan, dest, models)
        except dw_upload.LineError as exc:
            dest.unlink(missing_ok=True)
            return d.error(exc.status, exc.message)
        urls, count = ",".join(sorted(scanned.urls)), len(scanned.requests)
    now = ctx.clock.now()
    row = {
        "id": fid,
        "filename": filename,
        "purpose": purpose,
        "bytes": size,
        "created_at": now,
        "expires_at": now + FILE_TTL,
        "status": "processed",
        "urls": urls,
        "requests": count,
    }
    ctx.store.insert_file(row)
    return d.json(d.file_object(ctx.store.get_file(fid)), d.create_status)


async def list_files(request: Request) -> Response:
    """GET /files: one page, newest first unless ``order=asc``."""
    ctx: Ctx = request.app.state.ctx
    d = ctx.dialect
    limit = ctx.limit_arg(request, 10000, 10000)
    if isinstance(limit, Response):
        return limit
    order = request.query_params.get("order", "desc")
    if order not in ("asc", "desc"):
        return ctx.bad("order must be 'asc' or 'desc'", "order")
    rows, more = ctx.store.list_files(
        request.query_params.get("after"),
        limit,
        request.query_params.get("purpose"),
        order == "asc",
    )
    return ctx.page([d.file_object(r) for r in rows], more)


@with_file
async def get_file(request: Request, ctx: Ctx, row: dict) -> Response:
    """GET /files/{id}."""
    d = ctx.dialect
    return d.json(d.file_object(row))


@with_file
async def delete_file(request: Request, ctx: Ctx, row: dict) -> Response:
    """DELETE /files/{id}; refused while an unfinished batch writes the file. An input file in
    use may be deleted in the OpenAI dialect (as on OpenAI): the batch keeps its bytes."""
    d = ctx.dialect
    in_use = False
    for b in ctx.store.active_batches():
        if row["id"] in (b["out_id"], b["err_id"]) or (
            row["id"] == b["input_file_id"] and d.name != "openai"
        ):
            return d.error(409, "The file is in use by a batch that has not finished.")
        in_use = in_use or row["id"] == b["input_file_id"]
    ctx.store.delete_file(row["id"])
    if not in_use:  # a running batch still reads its requests from the bytes on disk
        ctx.files.delete(row["id"])
    return d.json({"id": row["id"], "object": "file", "deleted": True})


@with_file
async def file_content(request: Request, ctx: Ctx, row: dict) -> Response:
    """GET /files/{id}/content (Doubleword: ``skip``/``limit`` and progress headers)."""
    d = ctx.dialect
    batch = ctx.store.batch_by_file(row["id"])
    size = None
    if batch is not None:
        size = batch["out_bytes"] if batch["out_id"] == row["id"] else batch["err_bytes"]
    data = await anyio.to_thread.run_sync(ctx.files.read, row["id"], size)
    if d.name == "openai":
        return Response(data, media_type="application/octet-stream")
    is_output = batch is not None and batch["out_id"] == row["id"]
    try:
        return dw_content.content(data, request.query_params, batch, is_output, ctx.clock.now())
    except dw_content.QueryError as exc:
        return d.error(400, str(exc))


@with_file
async def cost_estimate(request: Request, ctx: Ctx, row: dict) -> Response:
    """GET /files/{id}/cost-estimate (Doubleword only)."""
    d = ctx.dialect
    window = request.query_params.get("completion_window", "24h")  # not validated there
    result = await anyio.to_thread.run_sync(
        estimate.estimate_file, ctx.files.path(row["id"]), row["id"], window, ctx.runner.life.recent
    )
    return d.json(result)


def routes(doubleword: bool) -> list[Route]:
    v = wire.API_PREFIX
    found = [
        Route(f"{v}/files", upload, methods=["POST"]),
        Route(f"{v}/files", list_files, methods=["GET"]),
        Route(f"{v}/files/{{file_id}}", get_file, methods=["GET"]),
        Route(f"{v}/files/{{file_id}}", delete_file, methods=["DELETE"]),
        Route(f"{v}/files/{{file_id}}/content", file_content, methods=["GET"]),
    ]
    if doubleword:
        found.append(Route(f"{v}/files/{{file_id}}/cost-estimate", cost_estimate, methods=["GET"]))
    return found
