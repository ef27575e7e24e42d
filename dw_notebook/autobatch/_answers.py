"""Result lines and batch failures as the ``openai`` SDK's own objects and exceptions.

A success becomes ``ChatCompletion``, ``CreateEmbeddingResponse``, ``Completion`` or ``Response``
(validated, else built leniently the way the SDK itself reads answers); an HTTP failure of one
request becomes the SDK's exception for its status (``openai.BadRequestError``, ...); a failure
without an HTTP answer (expired, cancelled, never ran) an ``openai.APIError``.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import pydantic

from .. import wire
from ..errors import APIError as DwAPIError
from ..errors import TransportError
from ._sdk import openai_sdk

if TYPE_CHECKING:
    import openai


@functools.cache
def answer_types() -> dict[str, type[pydantic.BaseModel]]:
    """The SDK's answer type of each endpoint."""
    openai_sdk()
    from openai.types import Completion, CreateEmbeddingResponse
    from openai.types.chat import ChatCompletion
    from openai.types.responses import Response

    return {
        wire.CHAT: ChatCompletion,
        wire.EMBEDDINGS: CreateEmbeddingResponse,
        wire.COMPLETIONS: Completion,
        wire.RESPONSES: Response,
    }


@functools.cache
def _by_status() -> dict[int, type[openai.APIStatusError]]:
    sdk = openai_sdk()
    return {
        400: sdk.BadRequestError,
        401: sdk.AuthenticationError,
        403: sdk.PermissionDeniedError,
        404: sdk.NotFoundError,
        409: sdk.ConflictError,
        422: sdk.UnprocessableEntityError,
        429: sdk.RateLimitError,
    }


def sdk_object(url: str, body: Any) -> Any:
    """The SDK's type for an answer of ``url``."""
    if isinstance(body, str | bytes):
        body = orjson.loads(body)
    model = answer_types().get(url)
    if model is None:
        return body
    try:
        return model.model_validate(body)
    except pydantic.ValidationError:
        return model.model_construct(**body)


def _request(base_url: str, url: str) -> httpx.Request:
    return httpx.Request("POST", base_url.rstrip("/").removesuffix("/v1") + url)


def status_error(base_url: str, url: str, status: int, body: Any) -> openai.APIStatusError:
    """The SDK's exception for an HTTP error answer."""
    if isinstance(body, str | bytes):
        try:
            body = orjson.loads(body)
        except orjson.JSONDecodeError:
            body = {"error": {"message": body if isinstance(body, str) else body.decode()}}
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    message = message or (error if isinstance(error, str) else f"HTTP {status}")
    sdk = openai_sdk()
    cls = sdk.InternalServerError if status >= 500 else _by_status().get(status)
    cls = cls or sdk.APIStatusError
    response = httpx.Response(status, request=_request(base_url, url), json=body)
    return cls(f"Error code: {status} - {message}", response=response, body=body)


def plain_error(base_url: str, url: str, message: str, body: Any = None) -> openai.APIError:
    """An SDK ``APIError`` for a failure without an HTTP answer."""
    return openai_sdk().APIError(message, _request(base_url, url), body=body)


def files_gone(base_url: str, url: str, gone: list[str], batch_id: str) -> Exception:
    """The error of a call whose batch's result file the service no longer has."""
    reason = (f"the result file {', '.join(gone)} of batch {batch_id} is gone from the "
              "service; this call's answer cannot be read")  # fmt: skip
    return plain_error(base_url, url, reason)


def from_line(base_url: str, url: str, line: dict[str, Any]) -> tuple[Any, Exception | None]:
    """(answer, None) or (None, exception) for one output or error line."""
    response = line.get("response")
    if isinstance(response, dict) and response.get("body") is not None:
        status = int(response.get("status_code") or 200)
        if status < 400:
            return sdk_object(url, response["body"]), None
        return None, status_error(base_url, url, status, response["body"])
    error = line.get("error") or {}
    code = error.get("code") or error.get("type") or "error"
    message = error.get("message") or "the request failed without an answer"
    return None, plain_error(base_url, url, f"{code}: {message}", error)


def from_dw_error(base_url: str, url: str, exc: Exception) -> Exception:
    """The SDK's exception for a failure to upload or create a batch."""
    if isinstance(exc, DwAPIError):
        return status_error(base_url, url, exc.status_code, {"error": {"message": exc.message}})
    if isinstance(exc, TransportError):
        return openai_sdk().APIConnectionError(message=str(exc), request=_request(base_url, url))
    return plain_error(base_url, url, str(exc))


def batch_failure(
    base_url: str, url: str, batch: dict[str, Any], line: int | None
) -> openai.APIError:
    """The error of a call whose batch ended without answering it: the batch's reason (the
    errors naming its input line first), as a 400 when the batch failed validation."""
    errors = (batch.get("errors") or {}).get("data") or []
    mine = [e for e in errors if line is not None and e.get("line") == line]
    reasons = "; ".join(str(e.get("message") or e.get("code")) for e in (mine or errors)[:3])
    status = batch["status"]
    message = f"batch {batch['id']} {status}" + (f": {reasons}" if reasons else "")
    if status == wire.FAILED:
        return status_error(base_url, url, 400, {"error": {"message": message}})
    return plain_error(base_url, url, message + " before this request ran")
