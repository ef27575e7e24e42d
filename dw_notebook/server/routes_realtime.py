"""Realtime inference routes, answered by the server's backend while the caller waits:
``/chat/completions``, ``/completions``, ``/embeddings``, and the Responses API
(``/responses``, with ``background: true`` polled through ``GET /responses/{id}``).

Behaviour follows Doubleword's control layer (its inference middleware and response store):

- ``service_tier`` ``"flex"`` (or Doubleword's ``"background"``) is queued work: an unknown
  model is refused with 403; a background Response starts ``queued``. Any other tier is
  realtime: an unknown model is 404 ``model_not_found``; a background Response starts
  ``in_progress``. Flex on ``/embeddings`` runs as realtime.
- ``stream: true`` replays the finished answer as server-sent events (``sse``).
- A Responses request is translated to chat for the backend and back (``translate``).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dw_notebook import wire
from dw_notebook.server import prices, sse, translate
from dw_notebook.server.backends import Backend
from dw_notebook.server.context import Ctx
from dw_notebook.server.responses import Record, Responses

QUEUED_TIERS = ("flex", "background")


def _envelope(status: int, message: str, code: str | None = None, param: str | None = None,
              type_: str = "invalid_request_error") -> Response:  # fmt: skip
    body: dict[str, Any] = {"message": message, "type": type_}
    if code is not None or param is not None:
        body.update(param=param, code=code)
    return Response(orjson.dumps({"error": body}), status, media_type="application/json")


def _json(obj: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(obj), status, media_type="application/json")


def _backend(ctx: Ctx) -> Backend:
    return ctx.runner.backend


def _known_model(ctx: Ctx, model: str) -> bool:
    """The forward backend serves whatever its upstream serves: the upstream decides."""
    return _backend(ctx).name == "forward" or model in prices.MODEL_IDS


def _tier(ctx: Ctx, body: dict, url: str) -> str:
    tier = body.get("service_tier")
    if tier not in QUEUED_TIERS or url == wire.EMBEDDINGS:
        return "priority"
    if tier == "background" and ctx.dialect.name != "doubleword":
        return "priority"
    return tier


async def _read(request: Request, ctx: Ctx, url: str) -> dict | Response:
    """The request body, or the refusal: bad JSON, no model, unknown model."""
    raw = await request.body()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        if ctx.dialect.name == "doubleword":
            return Response(b"", 400)  # the control layer answers a bad body with an empty 400
        return _envelope(400, "We could not parse the JSON body of your request.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return _envelope(400, "you must provide a model parameter", "bad_request", "model")
    if not _known_model(ctx, model):
        if ctx.dialect.name == "doubleword" and _tier(ctx, body, url) in QUEUED_TIERS:
            return _envelope(403, f"You do not have access to '{model}'. Please contact your "
                                  "administrator to request access.")  # fmt: skip
        return _envelope(404, f"The model `{model}` does not exist or you do not have access "
                              "to it.", "model_not_found")  # fmt: skip
    return body


def _whole(body: dict) -> dict:
    """What the backend is asked: the backends answer whole, never streamed."""
    return {k: v for k, v in body.items() if k not in ("stream", "stream_options")}


async def _realtime(request: Request, url: str) -> Response:
    ctx: Ctx = request.app.state.ctx
    body = await _read(request, ctx, url)
    if isinstance(body, Response):
        return body
    code, reply = await run_in_threadpool(_backend(ctx).handle, url, _whole(body), 0)
    if code >= 400 or body.get("stream") is not True or url == wire.EMBEDDINGS:
        return _json(reply, code)
    usage = bool((body.get("stream_options") or {}).get("include_usage"))
    chunks = sse.chat_chunks if url == wire.CHAT else sse.completion_chunks
    return sse.chunk_stream(chunks(reply, usage))


async def chat_completions(request: Request) -> Response:
    """POST /chat/completions."""
    return await _realtime(request, wire.CHAT)


async def completions(request: Request) -> Response:
    """POST /completions."""
    return await _realtime(request, wire.COMPLETIONS)


async def embeddings(request: Request) -> Response:
    """POST /embeddings."""
    return await _realtime(request, wire.EMBEDDINGS)


def _answer(backend: Backend, body: dict, rid: str) -> tuple[int, dict]:
    """Ask the backend in chat form and turn its answer into a Response object."""
    code, reply = backend.handle(wire.CHAT, translate.to_chat(body), 0)
    if code >= 400:
        return code, reply
    return code, translate.from_chat(reply, body, rid)


def _contract_error(tier: str, body: dict) -> str | None:
    if tier == "background" and body.get("background") is not True:
        return ('service_tier: "background" is asynchronous and requires background: true. '
                "Set background: true and poll GET /v1/responses/{id}, or choose a foreground "
                "service_tier.")  # fmt: skip
    return None


async def create_response(request: Request) -> Response:
    """POST /responses: answered at once, or accepted (``background: true``) and polled."""
    ctx: Ctx = request.app.state.ctx
    store: Responses = request.app.state.responses
    body = await _read(request, ctx, wire.RESPONSES)
    if isinstance(body, Response):
        return body
    tier = _tier(ctx, body, wire.RESPONSES)
    if (problem := _contract_error(tier, body)) is not None:
        return _envelope(400, problem)
    background = body.get("background") is True
    rid = str(uuid.uuid4())
    record = store.add(Record(rid, body["model"], tier, background, int(time.time())))
    backend, asked = _backend(ctx), _whole(body)

    def call() -> tuple[int, dict]:
        return _answer(backend, asked, rid)

    if background:
        store.start(record, call)
        accepted = {"id": record.id, "object": "response", "created_at": record.created_at,
                    "status": "queued" if tier in QUEUED_TIERS else "in_progress",
                    "model": record.model, "background": True, "output": []}  # fmt: skip
        if tier in QUEUED_TIERS:
            accepted["service_tier"] = tier
        return _json(accepted, 202 if ctx.dialect.name == "doubleword" else 200)
    await store.run(record, call)
    if tier in QUEUED_TIERS:  # queued work answers as its stored row reads
        answer, code = record.view(), record.code or 500
        code = 200 if answer["status"] == "completed" else code
    else:
        answer, code = record.answer or {}, record.code or 500
        if record.state == "failed":
            return _envelope(500, "The request failed.", "internal_error", None, "internal_error")
    if code >= 400 or body.get("stream") is not True:
        return _json(answer, code)
    return sse.event_stream(sse.response_events(answer))


def _missing(ctx: Ctx, response_id: str) -> Response:
    if ctx.dialect.name == "doubleword":
        return ctx.dialect.error(404, f"response with ID {response_id} not found")
    return _envelope(404, f"Response with id '{response_id}' not found.", None, "response_id")


async def get_response(request: Request) -> Response:
    """GET /responses/{id}: the stored row as a Response object."""
    ctx: Ctx = request.app.state.ctx
    response_id = request.path_params["response_id"]
    record = request.app.state.responses.get(response_id)
    if record is None:
        return _missing(ctx, response_id)
    return _json(record.view())


async def delete_response(request: Request) -> Response:
    """DELETE /responses/{id}."""
    ctx: Ctx = request.app.state.ctx
    response_id = request.path_params["response_id"]
    if not request.app.state.responses.delete(response_id):
        return _missing(ctx, response_id)
    record_id = f"resp_{response_id.removeprefix('resp_')}"
    return _json({"id": record_id, "object": "response", "deleted": True})


def routes() -> list[Route]:
    v = wire.API_PREFIX
    return [
        Route(f"{v}/chat/completions", chat_completions, methods=["POST"]),
        Route(f"{v}/completions", completions, methods=["POST"]),
        Route(f"{v}/embeddings", embeddings, methods=["POST"]),
        Route(f"{v}/responses", create_response, methods=["POST"]),
        Route(f"{v}/responses/{{response_id}}", get_response, methods=["GET"]),
        Route(f"{v}/responses/{{response_id}}", delete_response, methods=["DELETE"]),
    ]
