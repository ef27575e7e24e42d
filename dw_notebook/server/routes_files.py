"""Routes under /files: upload, retrieve, list, delete, content, cost estimate."""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dw_notebook import wire
from dw_notebook.server import estimate
from dw_notebook.server.context import FILE_TTL, Ctx, with_file
from dw_notebook.server.files import slice_lines
from dw_notebook.server.store import TERMINAL
from dw_notebook.server.upload import UploadError, receive_upload
from dw_notebook.server.validation import parse_file


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
        return d.error(exc.status, exc.message)
    purpose = fields.get("purpose", "")
    if purpose != "batch":
        dest.unlink(missing_ok=True)
        return ctx.bad("purpose must be 'batch'", "purpose")
    if d.name == "openai" and not filename.lower().endswith(".jsonl"):
        dest.unlink(missing_ok=True)
        return ctx.bad("Invalid file format for Batch API. Must be .jsonl", "file")
    urls, count = None, None
    if d.validate_at_upload:
        parsed = await anyio.to_thread.run_sync(parse_file, dest, None, False)
        urls, count = ",".join(sorted(parsed.urls)), len(parsed.requests)
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
        return ctx.bad("skip and limit must be non-negative integers")
    skip = int(skip_raw)
    limit = int(limit_raw) if limit_raw is not None else None
    body, count, total = slice_lines(data, skip, limit)
    last = min(skip, total) + count
    headers = {
        "X-Incomplete": "true" if running or last < total else "false",
        "X-Last-Line": str(last),
    }
    return Response(body, headers=headers, media_type="application/x-ndjson")


@with_file
async def cost_estimate(request: Request, ctx: Ctx, row: dict) -> Response:
    """GET /files/{id}/cost-estimate (Doubleword only)."""
    d = ctx.dialect
    window = request.query_params.get("completion_window", "24h")
    if window not in wire.COMPLETION_WINDOWS:
        return ctx.bad("completion_window must be '24h' or '1h'", "completion_window")
    result = await anyio.to_thread.run_sync(
        estimate.estimate_file, ctx.files.path(row["id"]), row["id"], window
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
