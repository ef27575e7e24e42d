"""The only module that speaks HTTP: a small synchronous Batch API client over httpx.

It works against OpenAI, Doubleword and the local server without configuration: responses are
normalised (missing fields become None, ``""`` file ids become None) and errors from every
dialect (OpenAI envelope, Doubleword plain text or ``{"message"}``) become ``APIError``s.
Transient failures (408, 429, 5xx, dropped connections) are retried with exponential backoff and
jitter, honouring ``Retry-After`` and ``retry-after-ms``.
"""

from __future__ import annotations

import io
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

import httpx
import orjson

from .busy import DEFAULT_PATIENCE, BusyWatch
from .config import Connection, missing_v1_hint
from .errors import APIError, TransportError, api_error_class
from .wire import RETRIABLE_STATUS_CODES

# Big bodies: no limit on the whole transfer, but a stalled one (no byte for 15 min) ends.
UPLOAD_TIMEOUT = httpx.Timeout(900.0, connect=10.0)

# Answers that mean "nothing was done, ask again later": safe to retry even for a create.
REFUSED_STATUS_CODES = frozenset({429, 503})

BATCH_FIELDS = (
    "id",
    "object",
    "endpoint",
    "errors",
    "input_file_id",
    "completion_window",
    "status",
    "output_file_id",
    "error_file_id",
    "created_at",
    "in_progress_at",
    "expires_at",
    "finalizing_at",
    "completed_at",
    "failed_at",
    "expired_at",
    "cancelling_at",
    "cancelled_at",
    "request_counts",
    "metadata",
    "usage",
)


def normalize_batch(raw: dict[str, Any]) -> dict[str, Any]:
    """A batch object with every documented field present and empty file ids as None.

    A Doubleword batch cancelled before its requests were populated reads ``cancelled``.
    Other implementations' shapes are read too: ``request_counts: null`` (a batch that failed
    validation) gives zero counts, null timestamps stay None, and ``errors`` given as a list,
    a string or ``{"object": null, "data": [...]}`` becomes ``{"object": "list", "data": [...]}``
    with ``code``, ``message``, ``param`` and an integer ``line`` in every item (or None).
    """
    batch = {name: raw.get(name) for name in BATCH_FIELDS}
    batch.update({k: v for k, v in raw.items() if k not in batch})
    for name in ("output_file_id", "error_file_id", "input_file_id"):
        if not batch[name]:
            batch[name] = None
    counts = batch["request_counts"] if isinstance(batch["request_counts"], dict) else {}
    batch["request_counts"] = {
        "total": _count(counts.get("total")),
        "completed": _count(counts.get("completed")),
        "failed": _count(counts.get("failed")),
    }
    batch["errors"] = normalize_errors(batch["errors"])
    if isinstance(batch.get("analytics"), dict):  # Doubleword ``include=analytics``
        batch["analytics"] = normalize_analytics(batch["analytics"])
    for name in BATCH_FIELDS:
        if name.endswith("_at"):
            batch[name] = _timestamp(batch[name])
    if (
        batch["status"] == "cancelling"
        and batch["cancelled_at"] is not None
        and batch["in_progress_at"] is None
    ):  # Doubleword: cancelled before its requests existed, nothing will run, yet it reads
        # cancelling for ever (OpenAI stamps cancelled_at only once cancelled)
        batch["status"], batch["service_status"] = "cancelled", "cancelling"
    return batch


def _timestamp(value: object) -> int | None:
    """Unix seconds from a number, a numeric string or an ISO 8601 string (else None)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return int(value) if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        if text.replace(".", "", 1).isdigit():
            return int(float(text))
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return int(moment.replace(tzinfo=moment.tzinfo or UTC).timestamp())
    return None


def _count(value: object) -> int:
    try:
        return max(int(value or 0), 0)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0


def normalize_errors(raw: object) -> dict[str, Any] | None:
    """A batch's ``errors`` as ``{"object": "list", "data": [{code, message, param, line}]}``,
    or None when it lists none."""
    data = raw.get("data") if isinstance(raw, dict) else raw
    if isinstance(raw, dict) and data is None and raw.get("message"):
        data = [{"message": raw["message"], "code": raw.get("code")}]  # Doubleword's engine
    if isinstance(data, str):
        data = [data]
    if not isinstance(data, list):
        return None
    items = []
    for item in data:
        if isinstance(item, str):
            item = {"message": item}
        if not isinstance(item, dict):
            continue
        line = item.get("line")
        if isinstance(line, str) and line.strip().isdigit():
            line = int(line)
        items.append(
            {
                "code": item.get("code") if isinstance(item.get("code"), str) else None,
                "message": str(item.get("message") or ""),
                "param": item.get("param") if isinstance(item.get("param"), str) else None,
                "line": line if isinstance(line, int) and not isinstance(line, bool) else None,
            }
        )
    return {"object": "list", "data": items} if items else None


def normalize_analytics(raw: dict[str, Any]) -> dict[str, Any]:
    """``/batches/{id}/analytics`` (counts as integers, costs as decimal strings) as
    ``{requests, input_tokens, output_tokens, cost}``; ``cost`` None where not given."""
    cost = raw.get("total_cost")
    try:
        usd = float(cost) if cost is not None else None
    except (TypeError, ValueError):
        usd = None
    return {
        "requests": _count(raw.get("total_requests")),
        "input_tokens": _count(raw.get("total_prompt_tokens")),
        "output_tokens": _count(raw.get("total_completion_tokens")),
        "cost": usd if usd is not None and math.isfinite(usd) else None,
    }


def batch_figures(batch: dict[str, Any]) -> tuple[int | None, int | None, float | None]:
    """(input tokens, output tokens, USD) a batch has used so far, as its service reports
    them: Doubleword's analytics (its cost where given), else OpenAI's ``usage`` (no cost);
    None where not reported."""
    figures = batch.get("analytics")
    if isinstance(figures, dict):
        return figures["input_tokens"], figures["output_tokens"], figures["cost"]
    usage = batch.get("usage")
    if isinstance(usage, dict):
        return _count(usage.get("input_tokens")), _count(usage.get("output_tokens")), None
    return None, None, None


@dataclass(frozen=True)
class ContentPage:
    """Bytes of a file's content; for growing Doubleword files, where the next read starts."""

    data: bytes
    incomplete: bool | None = None  # X-Incomplete: more lines will come
    last_line: int | None = None  # X-Last-Line: number of lines up to the end of ``data``


def _seconds(value: object, scale: float = 1.0) -> float | None:
    """A finite, non-negative number of seconds, else None (odd values fall back to backoff)."""
    try:
        seconds = float(value) * scale  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _retry_after(response: httpx.Response) -> float | None:
    ms = _seconds(response.headers.get("retry-after-ms"), 1 / 1000)
    if ms is not None:
        return ms
    return _seconds(response.headers.get("retry-after"))


def _first_bytes(content: bytes, n: int = 200) -> str:
    text = content[:n].decode("utf-8", "replace")
    return repr(text) + ("..." if len(content) > n else "")


def malformed(response: httpx.Response, why: str) -> APIError:
    """An answer that is not what the API sends: the URL, status and first bytes of the body."""
    return APIError(
        f"{why} from {response.request.method} {response.request.url}: "
        f"{_first_bytes(response.content)}",
        status_code=response.status_code,
        code="malformed_response",
        body=response.content[:1000],
    )


def _error_from(response: httpx.Response) -> APIError:
    text = response.text
    message, code, body = text.strip() or response.reason_phrase, None, text
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        pass
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):  # OpenAI envelope
            message = str(err.get("message") or message)
            code = err.get("code") or err.get("type")
        elif isinstance(body.get("message"), str):  # Doubleword {"message"} / {"error","message"}
            message = body["message"]
            code = err if isinstance(err, str) else None
        elif isinstance(err, str):
            message = err
    retry_after = _retry_after(response)
    if retry_after is None and isinstance(body, dict):
        seconds = body.get("retry_after_seconds")
        retry_after = _seconds(seconds) if isinstance(seconds, int | float) else None
    cls = api_error_class(response.status_code)
    return cls(
        message, status_code=response.status_code, code=code, body=body, retry_after=retry_after
    )


class BatchClient:
    """Batch API calls against one base URL.

    >>> client = BatchClient("http://127.0.0.1:8765/v1", "token")  # doctest: +SKIP
    >>> client.get_batch("batch_abc")["status"]                      # doctest: +SKIP
    'in_progress'
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 60.0,
        max_retries: int = 6,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        max_refusals: int = 60,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.max_refusals = max_refusals  # 429/503 with Retry-After, waited out on top
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._sleep = sleep
        self.watch: BusyWatch | None = None  # set on a job's view of the client (``watched``)
        self._owner = True
        self._http = httpx.Client(
            base_url=self.base_url + "/",
            headers={"User-Agent": "dw-notebook"}
            | ({"Authorization": f"Bearer {api_key}"} if api_key else {}),
            timeout=httpx.Timeout(timeout, connect=10.0),
        )

    def __repr__(self) -> str:
        return f"BatchClient({self.base_url!r})"

    def close(self) -> None:
        if self._owner:
            self._http.close()

    def watched(self, watch: BusyWatch) -> BatchClient:
        """This client (its connections shared) reporting refusals to ``watch`` and giving up
        once they outlast its patience."""
        view = object.__new__(BatchClient)
        view.__dict__.update(self.__dict__)
        view.watch, view._owner = watch, False
        return view

    def __enter__(self) -> BatchClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport -------------------------------------------------------------------------

    def _delay(self, attempt: int, hint: float | None) -> float:
        if hint is not None and math.isfinite(hint):
            return min(max(hint, 0.0), self.backoff_max * 4)
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))

    def backoff(self, attempt: int) -> None:
        """Sleep as between two retries (exponential, with jitter)."""
        self._sleep(self._delay(attempt, None))

    def _request(
        self,
        method: str,
        path: str,
        *,
        retry: bool = True,
        idempotent: bool = True,
        wait_refusals: bool = True,
        final_refusal: Callable[[APIError], bool] | None = None,
        make_content: Callable[[], dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        attempts = self.max_retries + 1 if retry else 1
        retry_on = RETRIABLE_STATUS_CODES if idempotent else REFUSED_STATUS_CODES
        refusals = 0  # answers that named when to come back: not counted against max_retries
        attempt = -1
        while True:
            attempt += 1
            last = attempt >= attempts - 1
            if make_content is not None:
                kwargs.update(make_content())
            if self._http.is_closed:  # e.g. by stop_local(): a poll error, not a crash
                raise TransportError(f"{method} {path} failed: the client was closed")
            try:
                response = self._http.request(method, path.lstrip("/"), **kwargs)
            except httpx.TransportError as exc:
                if last or not idempotent:
                    raise TransportError(f"{method} {path} failed: {exc!r}") from exc
                self._sleep(self._delay(attempt, None))
                continue
            # the response and its (already read) stream refer to each other: without this
            # its body, and an upload's, would live until a garbage collection, so a job
            # reading or sending many files would hold them all
            response.stream = httpx.ByteStream(b"")
            if response.status_code < 400:
                if self.watch is not None:
                    self.watch.answered()
                return response
            error = _error_from(response)
            if response.status_code == 404 and (hint := missing_v1_hint(self.base_url)):
                error = type(error)(
                    f"{error.message} from {method} {response.request.url}{hint}",
                    status_code=404, code=error.code, body=error.body,
                )  # fmt: skip
            route = f"{method} {path.strip('/').split('/')[0]}"
            if self.watch is not None and response.status_code in REFUSED_STATUS_CODES:
                asked = error.retry_after if error.retry_after is not None else 0.0
                self.watch.refused(error, route, self._delay(attempt, asked))
                if not wait_refusals:
                    raise error  # a poll: the caller shows it and asks again later
            if final_refusal is not None and final_refusal(error):
                raise error  # the caller has another way (a pilot's longer window)
            refused = (
                attempts > 1
                and response.status_code in REFUSED_STATUS_CODES
                and error.retry_after is not None
                and refusals < self.max_refusals
            )
            if refused:
                refusals += 1
                attempt -= 1  # a storm of "come back in n seconds" is waited out
            elif last or response.status_code not in retry_on:
                raise error
            delay = self._delay(attempt, error.retry_after)
            left = self.watch.left() if self.watch is not None else None
            if left is not None and left < delay:
                self._sleep(max(left, 0.0))  # shown as busy until patience runs out
                raise self.watch.error(error, route)  # type: ignore[union-attr]
            self._sleep(delay)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise malformed(response, "an answer that is not JSON") from None

    def _unreadable(self, why: str, method: str, path: str, answer: Any) -> APIError:
        """A JSON answer that is not what the API sends (``malformed`` for parsed answers)."""
        return APIError(
            f"{why} from {method} {self.base_url}/{path}: {_first_bytes(orjson.dumps(answer))}",
            status_code=200,
            code="malformed_response",
            body=answer,
        )

    def _object(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A JSON object answer (a batch, a file, a list page)."""
        answer = self._json(method, path, **kwargs)
        if not isinstance(answer, dict):
            raise self._unreadable("an answer that is not a JSON object", method, path, answer)
        return answer

    def _batch(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        answer = self._object(method, path, **kwargs)
        try:
            return normalize_batch(answer)
        except (TypeError, ValueError, AttributeError) as exc:
            why = f"a batch object that cannot be read ({exc})"
            raise self._unreadable(why, method, path, answer) from None

    # -- files -----------------------------------------------------------------------------

    def upload_file(
        self,
        data: bytes | memoryview | BinaryIO,
        filename: str = "batch.jsonl",
        purpose: str = "batch",
        *,
        retry: bool = True,
    ) -> dict[str, Any]:
        """Upload JSONL for a batch; the body is streamed from ``data`` in chunks.

        ``retry=False`` retries only explicit refusals (429, 503): after a lost answer the
        file may exist, and the caller looks for it before sending it again."""

        def content() -> dict[str, Any]:
            stream = io.BytesIO(data) if isinstance(data, bytes | memoryview) else data
            stream.seek(0)
            return {
                "files": {"file": (filename, stream, "application/jsonl")},
                "data": {"purpose": purpose},
            }

        return self._object(
            "POST", "files", make_content=content, timeout=UPLOAD_TIMEOUT, idempotent=retry
        )

    def delete_file(self, file_id: str) -> dict[str, Any]:
        return self._json("DELETE", f"files/{file_id}")

    def file_content(
        self, file_id: str, *, skip: int | None = None, limit: int | None = None
    ) -> ContentPage:
        """Content of a file; ``skip``/``limit`` page through lines where the service can."""
        params = {k: v for k, v in (("skip", skip), ("limit", limit)) if v is not None}
        response = self._request("GET", f"files/{file_id}/content", params=params)
        incomplete = response.headers.get("x-incomplete")
        last_line = response.headers.get("x-last-line")
        return ContentPage(
            data=response.content,
            incomplete=None if incomplete is None else incomplete.lower() == "true",
            last_line=int(last_line) if last_line and last_line.isdigit() else None,
        )

    def cost_estimate(self, file_id: str, completion_window: str = "24h") -> dict[str, Any]:
        return self._json(
            "GET",
            f"files/{file_id}/cost-estimate",
            params={"completion_window": completion_window},
            retry=False,
        )

    # -- batches ---------------------------------------------------------------------------

    def create_batch(
        self,
        input_file_id: str,
        endpoint: str,
        completion_window: str = "24h",
        metadata: dict[str, str] | None = None,
        *,
        final_refusal: Callable[[APIError], bool] | None = None,
    ) -> dict[str, Any]:
        """Create a batch; ``final_refusal(error)`` True raises that refusal (429/503) at once
        instead of waiting it out."""
        body: dict[str, Any] = {
            "input_file_id": input_file_id,
            "endpoint": endpoint,
            "completion_window": completion_window,
        }
        if metadata:
            body["metadata"] = metadata
        # Only explicit refusals are retried: after a dropped connection or a 500 the batch may
        # exist, so the job layer looks it up by its metadata instead of creating a second one.
        return self._batch(
            "POST", "batches", json=body, idempotent=False, final_refusal=final_refusal
        )

    def get_batch(self, batch_id: str, *, wait_refusals: bool = True) -> dict[str, Any]:
        """A batch; ``wait_refusals=False`` raises a 429/503 at once (a poll asks later)."""
        return self._batch("GET", f"batches/{batch_id}", wait_refusals=wait_refusals)

    def batch_analytics(self, batch_id: str) -> dict[str, Any]:
        """Doubleword's measured figures of a batch's answered requests: ``input_tokens``,
        ``output_tokens`` and ``cost`` (USD, None where the service gives none). A service
        without the route (OpenAI) answers 404; polls do not wait out refusals here."""
        raw = self._object("GET", f"batches/{batch_id}/analytics", wait_refusals=False)
        return normalize_analytics(raw)

    def cancel_batch(self, batch_id: str) -> dict[str, Any]:
        return self._batch("POST", f"batches/{batch_id}/cancel")

    def list_batches(
        self,
        *,
        after: str | None = None,
        limit: int = 20,
        search: str | None = None,
        wait_refusals: bool = True,
        analytics: bool = False,
    ) -> dict[str, Any]:
        """A page of batches, newest first. ``search`` narrows it to batches whose metadata
        contains the text where the service supports it (Doubleword); others ignore it and
        answer the plain page, so callers still filter what comes back. ``analytics`` asks
        Doubleword to add each batch's measured tokens and cost (other services ignore it)."""
        params: dict[str, Any] = {"limit": limit}
        if after:
            params["after"] = after
        if search:
            params["search"] = search
        if analytics:
            params["include"] = "analytics"
        page = self._object("GET", "batches", params=params, wait_refusals=wait_refusals)
        try:
            page["data"] = [normalize_batch(b) for b in page.get("data") or []]
        except (TypeError, ValueError, AttributeError) as exc:
            why = f"a list of batches that cannot be read ({exc})"
            raise self._unreadable(why, "GET", "batches", page) from None
        return page

    def iter_batches(
        self,
        *,
        page_size: int = 100,
        max_pages: int = 10,
        search: str | None = None,
        analytics: bool = False,
    ) -> Iterator[dict]:
        """Batches newest first, following ``after`` cursors for at most ``max_pages`` pages
        (``search`` and ``analytics``: see ``list_batches``)."""
        after = None
        for _ in range(max_pages):
            page = self.list_batches(
                after=after, limit=page_size, search=search, analytics=analytics
            )
            yield from page["data"]
            if not page.get("has_more") or not page["data"]:
                return
            after = page.get("last_id") or page["data"][-1]["id"]

    def iter_files(
        self, *, purpose: str | None = "batch", page_size: int = 100, max_pages: int = 5
    ) -> Iterator[dict]:
        """Files newest first (``purpose`` filters), following ``after`` cursors."""
        after = None
        for _ in range(max_pages):
            params: dict[str, Any] = {"limit": page_size, "order": "desc"}
            if purpose:
                params["purpose"] = purpose
            if after:
                params["after"] = after
            page = self._object("GET", "files", params=params)
            data = [f for f in page.get("data") or [] if isinstance(f, dict)]
            yield from data
            if not page.get("has_more") or not data:
                return
            after = page.get("last_id") or data[-1].get("id")

    def list_models(self) -> list[str]:
        return [m["id"] for m in self._object("GET", "models").get("data") or []]


__all__ = ["DEFAULT_PATIENCE", "BatchClient", "BusyWatch", "batch_figures", "client_for"]

# One client per service and key, shared by the jobs of this process (its pooled connections).
_clients: dict[tuple[str, str], BatchClient] = {}


def client_for(connection: Connection) -> BatchClient:
    """The shared client for a connection, made on first use."""
    key = (connection.base_url, connection.api_key)
    if key not in _clients:
        _clients[key] = BatchClient(connection.base_url, connection.api_key)
    return _clients[key]


def close_clients(base_url: str | None = None) -> None:
    """Close the cached clients (their pooled connections), all or only those for ``base_url``."""
    for key in list(_clients):
        if base_url is None or key[0] == base_url:
            _clients.pop(key).close()
