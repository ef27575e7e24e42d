"""Creating one batch on the service: the service's cost estimate, the create call, and the
look-up that finds a batch whose creation answer was lost."""

from __future__ import annotations

from typing import Any

from ..client import BatchClient
from ..errors import APIError, BudgetExceededError, JobError, ServerError, TransportError


def batch_tag(job_id: str, attempt: int, chunk: int) -> dict[str, str]:
    """The metadata that names a batch's job, attempt and chunk on the service."""
    return {"dw_job": job_id, "dw_attempt": str(attempt), "dw_chunk": str(chunk)}


def create_batch(
    client: BatchClient, file_id: str, spec: dict[str, Any], tag: dict[str, str]
) -> dict[str, Any]:
    """Create the batch for an uploaded file; when the answer is lost, find it by its tag."""
    metadata = {**spec.get("metadata", {}), **tag}
    try:
        return client.create_batch(file_id, spec["endpoint"], spec["window"], metadata)
    except (TransportError, ServerError) as exc:
        batch = find_created(client, tag)
        if batch is None:
            raise JobError(
                f"creating the batch for chunk {tag['dw_chunk']} failed ({exc}); nothing is "
                "lost: run the same cell again to resume"
            ) from exc
        return batch


def find_created(client: BatchClient, tag: dict[str, str]) -> dict[str, Any] | None:
    """A recent batch whose metadata carries ``tag``, or None."""
    try:
        for batch in client.iter_batches(max_pages=3):
            metadata = batch.get("metadata") or {}
            if all(metadata.get(k) == v for k, v in tag.items()):
                return batch
    except (TransportError, APIError):
        return None
    return None


def service_estimate(client: BatchClient, file_id: str, window: str) -> tuple[float, Any] | None:
    """(USD, the answer) of the service's own estimate for an uploaded file; None where the
    service has no estimate endpoint (OpenAI) or no price."""
    try:
        answer = client.cost_estimate(file_id, window)
        return float(answer["total_estimated_cost"]), answer
    except (APIError, TransportError, KeyError, TypeError, ValueError):
        return None


def refuse_over_budget(
    client: BatchClient, file_id: str, total: float, budget: float | None, answer: Any
) -> None:
    """Delete the uploaded file and raise when the service's estimate is over ``budget``."""
    if budget is None or total <= budget:
        return
    try:
        client.delete_file(file_id)
    except (APIError, TransportError):
        pass
    raise BudgetExceededError(
        f"the service estimates ${total:.4f}, over the budget ${budget:.4f}; nothing was "
        "submitted. Raise budget= or send fewer rows.",
        answer,
    )
