"""Answers of autobatch batches read back from the service by their registry records, so a
restarted kernel gets what an earlier one sent."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from .. import wire
from ..client import BatchClient
from ..errors import JobError, NotFoundError
from ..job.registry import Registry
from . import _answers
from ._sdk import openai_sdk

KIND = "autobatch"


@dataclass(frozen=True)
class Collected:
    """One call of a batch sent earlier: the request, and its answer or its error."""

    custom_id: str
    batch_id: str
    url: str
    request: dict[str, Any]
    response: Any  # the SDK's object (ChatCompletion...), None when the call failed
    error: Exception | None

    @property
    def ok(self) -> bool:
        return self.error is None


def _ended(client: BatchClient, batch_id: str, wait: bool, deadline: float | None) -> dict:
    while True:
        batch = client.get_batch(batch_id)
        if batch["status"] in wire.TERMINAL_STATUSES or not wait:
            return batch
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError(f"batch {batch_id} has not ended in time")
        time.sleep(0.25 if "127.0.0.1" in client.base_url else 5.0)


def _lines(client: BatchClient, file_id: str | None) -> list[dict[str, Any]] | None:
    """The lines of a file; None when the service no longer has it (other errors raise)."""
    if not file_id:
        return []
    try:
        data = client.file_content(file_id).data
    except NotFoundError:
        return None
    return [orjson.loads(raw) for raw in data.splitlines() if raw.strip()]


def collect(
    *,
    client: BatchClient,
    registry: Registry,
    service: str,
    name: str,
    wait: bool = True,
    timeout: float | None = None,
) -> list[Collected]:
    """Every call of the autobatch batches recorded under ``name`` for ``service``, oldest
    first; ``wait`` until their batches end (else unfinished calls are left out)."""
    openai_sdk()
    deadline = None if timeout is None else time.monotonic() + timeout
    records = [
        r for r in registry.all_jobs(limit=10_000)
        if r.service == service and r.spec.get("kind") == KIND and r.name == name
    ]  # fmt: skip
    out: list[Collected] = []
    for record in sorted(records, key=lambda r: r.created_at):
        for b in record.batches:
            if not b.batch_id:
                continue
            batch = _ended(client, b.batch_id, wait, deadline)
            if batch["status"] not in wire.TERMINAL_STATUSES:
                continue
            out += _calls_of(client, batch)
    return out


def _calls_of(client: BatchClient, batch: dict[str, Any]) -> list[Collected]:
    requests = _lines(client, batch["input_file_id"])
    if requests is None:
        raise JobError(
            f"the service no longer has the input file {batch['input_file_id']} of batch "
            f"{batch['id']}: its calls cannot be listed"
        )
    answers, gone = {}, []
    for file_id in (batch.get("output_file_id"), batch.get("error_file_id")):
        lines = _lines(client, file_id)
        if lines is None:
            gone.append(file_id)
        answers.update((line.get("custom_id"), line) for line in lines or [])
    out = []
    for number, request in enumerate(requests, start=1):
        url, cid = request["url"], request["custom_id"]
        line = answers.get(cid)
        if line is None and gone:
            value, error = None, _answers.files_gone(client.base_url, url, gone, batch["id"])
        elif line is None:
            value, error = None, _answers.batch_failure(client.base_url, url, batch, number)
        else:
            value, error = _answers.from_line(client.base_url, url, line)
        out.append(Collected(cid, batch["id"], url, request["body"], value, error))
    return out
