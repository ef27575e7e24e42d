"""Creating a job's batches on the service without ever paying twice: the look-up that finds
batches (and uploaded files) the service already has, the whole job's cost check, and the create
call whose lost answer is found by the batch's metadata."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

from ..client import BatchClient
from ..config import missing_v1_hint
from ..errors import (
    APIError,
    BudgetExceededError,
    ConflictError,
    JobError,
    NotFoundError,
    ServerError,
    TransportError,
    budget_advice,
)
from .sending import CountingReader

#: Pages of ``GET /batches`` (newest first) searched for a job's batches, and their size.
LOOKUP_PAGES = 10
LOOKUP_PAGE_SIZE = 100

#: Pages read by the look right after a create: a duplicate made at the same moment is among
#: the newest batches (a service without ``search=`` would otherwise be paged through per chunk).
SETTLE_PAGES = 2

#: Seconds a service whose ``GET /batches`` answered 404/405 is not asked again (the look-ups
#: of one submit: before, after each create, and once more at the end).
CANNOT_LIST_FOR = 60.0
_CANNOT_LIST: dict[str, float] = {}  # base URL -> when its list answered 404/405


def batch_tag(
    job_id: str,
    attempt: int,
    chunk: int,
    rows: tuple[int, int] | None = None,
    name: str | None = None,
) -> dict[str, str]:
    """The metadata that names a batch's job, attempt and chunk on the service, with the chunk's
    request range (``start-stop``) and the job's name: any machine that makes the same submit
    recomputes the job id (``identity.job_id``), so it finds these batches with no local state."""
    tag = {"dw_job": job_id, "dw_attempt": str(attempt), "dw_chunk": str(chunk)}
    if rows is not None:
        tag["dw_rows"] = f"{rows[0]}-{rows[1]}"
    if name:
        tag["dw_name"] = name[:500]  # OpenAI keeps values of up to 512 characters
    return tag


def tag_rows(batch: dict[str, Any]) -> tuple[int, int] | None:
    """The request range a batch's metadata names, or None."""
    start, _, stop = str((batch.get("metadata") or {}).get("dw_rows", "")).partition("-")
    return (int(start), int(stop)) if start.isdigit() and stop.isdigit() else None


def upload_name(
    name: str, job_id: str, attempt: int, chunk: int, rows: tuple[int, int] | None = None
) -> str:
    """The filename of a chunk's upload: it names the job (and the chunk's requests), so an
    unused upload can be found."""
    span = f".{rows[0]}-{rows[1]}" if rows is not None else ""
    return f"{name}.{job_id}.{attempt}.{chunk}{span}.jsonl"


def job_batches(
    client: BatchClient, job_id: str, max_pages: int | None = None
) -> list[dict[str, Any]]:
    """Every batch the service has whose metadata names ``job_id``, oldest first: asked with
    ``search=`` (Doubleword narrows the list to them; other services ignore it, and then the
    recent pages are read), filtered here either way.

    Raises JobError when the service cannot be asked: creating without knowing could pay twice.
    A service without ``GET /batches`` (404/405) cannot be searched; then nothing is found.
    """
    found: list[dict[str, Any]] = []
    if time.monotonic() - _CANNOT_LIST.get(client.base_url, -CANNOT_LIST_FOR) < CANNOT_LIST_FOR:
        return found
    try:
        for batch in client.iter_batches(
            page_size=LOOKUP_PAGE_SIZE, max_pages=max_pages or LOOKUP_PAGES, search=job_id
        ):
            if (batch.get("metadata") or {}).get("dw_job") == job_id:
                found.append(batch)
    except (APIError, TransportError) as exc:
        if isinstance(exc, NotFoundError) and missing_v1_hint(client.base_url):
            raise  # a base URL without /v1: the message says so
        if getattr(exc, "status_code", None) in (401, 402, 403):
            raise  # a refusal its own message explains (a bad key): not a service hiccup
        if isinstance(exc, NotFoundError) or getattr(exc, "status_code", None) == 405:
            _CANNOT_LIST[client.base_url] = time.monotonic()  # one submit asks (and warns) once
            warnings.warn(
                f"the service cannot list batches ({exc}); a batch whose creation answer was "
                "lost cannot be found there",
                stacklevel=4,
            )
            return found
        raise JobError(
            f"could not check whether the service already has this job's batches ({exc}); "
            "nothing new was created: run the same cell again when the service answers"
        ) from exc
    # oldest first. Within one second (the API's resolution) the list's own order decides: it
    # is the service's exact creation order (newest first), the same for every kernel
    return sorted(reversed(found), key=lambda b: int(b.get("created_at") or 0))


def chunk_of(batch: dict[str, Any]) -> tuple[int, int] | None:
    """(attempt, chunk) a batch's metadata names, or None for a batch that is not a job's."""
    metadata = batch.get("metadata") or {}
    attempt, chunk = str(metadata.get("dw_attempt", "")), str(metadata.get("dw_chunk", ""))
    return (int(attempt), int(chunk)) if attempt.isdigit() and chunk.isdigit() else None


def existing_batches(client: BatchClient, job_id: str, attempt: int) -> dict[int, dict[str, Any]]:
    """The batches the service already has for this job and attempt, by chunk (the oldest one
    where a chunk has several: the one every kernel keeps, see ``settle``)."""
    found: dict[int, dict[str, Any]] = {}
    for batch in job_batches(client, job_id):
        named = chunk_of(batch)
        if named is not None and named[0] == attempt:
            found.setdefault(named[1], batch)
    return found


def settle(
    client: BatchClient, batch: dict[str, Any], tag: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """After a create, look again: where another kernel (or machine) created the same chunk at
    the same moment, every one keeps the oldest batch, and the one that made a younger batch
    cancels it (only its own: a batch it cannot see yet is never cancelled by mistake).
    Returns (the chunk's batch, this call's batch as the cancel left it if it was the younger
    duplicate)."""
    named = (int(tag["dw_attempt"]), int(tag["dw_chunk"]))
    try:
        same = [
            b
            for b in job_batches(client, tag["dw_job"], max_pages=SETTLE_PAGES)
            if chunk_of(b) == named
        ]
    except JobError:
        return batch, None  # cannot look: keep ours (at worst a duplicate runs, as before)
    if not any(b["id"] == batch["id"] for b in same):
        same.append(batch)  # a list served from a replica may not show it yet: the newest
    oldest = same[0]
    if oldest["id"] == batch["id"]:
        return batch, None
    cancelled = cancel_quietly(client, batch["id"])  # None: it had ended, or is gone
    return oldest, cancelled or {**batch, "status": None, "in_progress_at": None}


def ran_before_cancel(batch: dict[str, Any]) -> bool:
    """Whether a cancelled batch had started (its requests were populated and began to run,
    so the ones it finished are billed); False only when the service says it had not."""
    counts = batch.get("request_counts") or {}
    stopped_early = batch.get("status") in ("validating", "cancelling", "cancelled")
    return not stopped_early or bool(
        batch.get("in_progress_at") or counts.get("completed") or counts.get("failed")
    )


def duplicate_note(chunk: int, cancelled: dict[str, Any], kept: str) -> str:
    """What the job tells its views about its own younger duplicate of ``chunk``, true to
    whether that batch had started before it was cancelled."""
    said = f"chunk {chunk} was created by another kernel at the same moment: this kernel's batch "
    if not ran_before_cancel(cancelled):
        return (
            f"{said}{cancelled['id']} was cancelled before it ran (nothing billed), and the job "
            f"follows {kept}"
        )
    rows = tag_rows(cancelled)
    span = f"requests {rows[0]}-{rows[1] - 1}" if rows else "its requests"
    done = (cancelled.get("request_counts") or {}).get("completed") or 0
    return (
        f"{said}{cancelled['id']} had already started when it was cancelled: {span} were sent "
        f"twice, and the ones it finished ({done} so far, and any still running) are billed "
        f"besides the same requests in {kept}, which the job follows"
    )


def uploaded_file(
    client: BatchClient, filename: str, size: int, files: list[dict[str, Any]] | None = None
) -> str | None:
    """The id of an upload of this chunk that the service has (its answer was lost), or None;
    ``files``: the service's recent uploads, when already listed (``recent_uploads``)."""
    try:
        for file in client.iter_files(purpose="batch", max_pages=3) if files is None else files:
            if file.get("filename") == filename and file.get("bytes") in (size, None):
                return str(file["id"])
    except (APIError, TransportError, KeyError):
        return None
    return None


def recent_uploads(client: BatchClient) -> list[dict[str, Any]]:
    """The service's recent batch uploads, listed once for all chunks of a submit."""
    try:
        return list(client.iter_files(purpose="batch", max_pages=3))
    except (APIError, TransportError):
        return []


def upload(
    client: BatchClient,
    payload: bytes,
    filename: str,
    on_sent: Callable[[int], None] | None = None,
    tries: int = 4,
) -> str:
    """Upload a chunk; when an answer is lost, look for the upload before sending it again.
    ``on_sent(n)`` hears how many bytes of the body have gone out."""
    # closed at the end: httpx's request and response stay in reference cycles until the next
    # garbage collection, and the body with them would keep the chunk's bytes until then
    with CountingReader(payload, on_sent or (lambda _: None)) as body:
        for attempt in range(tries):
            try:
                return str(client.upload_file(body, filename=filename, retry=False)["id"])
            except (TransportError, ServerError):
                if attempt == tries - 1:
                    raise
            found = uploaded_file(client, filename, len(payload))
            if found is not None:
                return found
            client.backoff(attempt)
    raise AssertionError("unreachable")


def create_batch(
    client: BatchClient, file_id: str, spec: dict[str, Any], tag: dict[str, str]
) -> dict[str, Any]:
    """Create the batch for an uploaded file; when the answer is lost, find it by its tag."""
    metadata = {**spec.get("metadata", {}), **tag}
    # a window tried first (a pilot's 1h) that has no capacity is left at once for the job's own
    final = window_refused if spec.get("window_may_fall_back") else None
    try:
        return client.create_batch(
            file_id, spec["endpoint"], spec["window"], metadata, final_refusal=final
        )
    except (TransportError, ServerError) as exc:
        try:
            chunks = existing_batches(client, tag["dw_job"], int(tag["dw_attempt"]))
        except JobError:
            chunks = {}
        batch = chunks.get(int(tag["dw_chunk"]))
        if batch is None:
            raise JobError(
                f"creating the batch for chunk {tag['dw_chunk']} failed ({exc}); nothing is "
                "lost: run the same cell again, it looks for the batch before creating one"
            ) from exc
        return batch


def window_refused(error: APIError) -> bool:
    """A refusal naming the completion window (Doubleword: "Insufficient capacity for 1h
    completion window"; OpenAI: 400 on ``completion_window``)."""
    text = str(error)
    return "completion window" in text or "completion_window" in text


def cancel_quietly(client: BatchClient, batch_id: str) -> dict[str, Any] | None:
    """Cancel a batch; one that has ended meanwhile, or is gone, is left as it is (None).
    Returns the batch as the cancel answered it."""
    try:
        return client.cancel_batch(batch_id)
    except (ConflictError, NotFoundError):
        return None


def service_estimate(client: BatchClient, file_id: str, window: str) -> tuple[float, Any] | None:
    """(USD, the answer) of the service's own estimate for an uploaded file; None where the
    service has no estimate endpoint (OpenAI) or no price."""
    try:
        answer = client.cost_estimate(file_id, window)
        return float(answer["total_estimated_cost"]), answer
    except (APIError, TransportError, KeyError, TypeError, ValueError):
        return None


def refuse_estimate(
    usd: float | None, budget: float | None, estimate: Any, window: str, capped: bool = False
) -> None:
    """Raise, before anything is sent, when the local estimate (USD; ``capped``: the upper
    bound with every request at its ``max_tokens``) is over ``budget``."""
    if budget is not None and usd is not None and usd > budget:
        what = (
            f"the job can cost at most ${usd:.4f} (every request at its max_tokens), which"
            if capped
            else f"estimated cost ${usd:.4f}"
        )
        raise BudgetExceededError(
            f"{what} is over the budget ${budget:.4f}: {estimate}. " + budget_advice(window),
            estimate,
        )


def max_output_of(params: dict[str, Any]) -> int | None:
    """The output tokens a request may produce at most (``max_tokens`` and its aliases)."""
    for key in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        value = params.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


def upper_bound_usd(estimate: Any, max_output: int | None) -> float | None:
    """USD the requests of ``estimate`` can cost at most, as far as can be told before they
    run: input from the prompts, output from ``max_tokens`` where given (every request at its
    cap); without a cap, the local estimate (the service's is compared at create)."""
    price = getattr(estimate, "price", None)
    if max_output is None or price is None:
        return getattr(estimate, "usd", None)
    return estimate.input_usd + estimate.n_requests * max_output * price.output / 1e6


def check_budget(
    budget: float | None,
    model: str,
    service_total: float | None,
    local_total: float | None,
    answers: list[Any],
    window: str,
    capped: bool = False,
) -> None:
    """Raise before the first create when the whole job's cost can pass ``budget``: with
    ``max_tokens`` given, the local upper bound (``capped``); else the larger of the service's
    estimate (which ignores ``max_tokens``, and is "0" for a model it has no tariff for) and
    the local one. A job with no known price is refused unless ``budget=None`` or a price is
    given."""
    if budget is None:
        return
    if not service_total:  # none, or "0": the service has no tariff for this model
        service_total = None
    if service_total is not None and not capped and service_total >= (local_total or 0.0):
        if service_total > budget:
            raise BudgetExceededError(
                f"the service estimates ${service_total:.4f} for the whole job, over the budget "
                f"${budget:.4f}; no batch was created. Raise budget= or send fewer rows.",
                answers,
            )
        return
    if local_total is None:
        raise BudgetExceededError(
            f"no known price for model {model!r}, so budget=${budget:.4f} cannot be checked; "
            "no batch was created. Pass budget=None to submit without a cost check, or "
            "price=(input, output) in USD per 1M tokens.",
            None,
        )
    if local_total > budget:
        what = "at most" if capped else "estimated"
        raise BudgetExceededError(
            f"the job can cost {what} ${local_total:.4f}, over the budget ${budget:.4f}"
            + (" (every request at its max_tokens)" if capped else "")
            + "; no batch was created. "
            + budget_advice(window),
            None,
        )


def delete_files(client: BatchClient, file_ids: list[str]) -> None:
    """Remove uploads that will not be used (best effort)."""
    for file_id in file_ids:
        try:
            client.delete_file(file_id)
        except (APIError, TransportError):
            pass
