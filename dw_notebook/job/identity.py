"""Which job a submit is: the fingerprint of its requests, window and service, and the job
already recorded under it (still sending in this process, or still known to the service), else a
new one. Shared by the submit of a frame and of a dataset, so a re-run never pays twice.

The job id is derived from the fingerprint, not drawn at random: any machine that makes the same
submit computes the same id, and the batches' metadata carries it, so the look-up before a create
finds the job on the service with the local registry lost, damaged or another kernel's."""

from __future__ import annotations

import hashlib
import logging
import uuid
import warnings
from typing import Any

from ..client import BatchClient
from ..config import Connection
from ..errors import APIError, DwError, JobError, NotFoundError, TransportError, cannot_see_job
from . import create
from .core import Job
from .registry import JobRecord, Registry
from .sending import running_job

log = logging.getLogger(__name__)


def fingerprint(built_fingerprint: str, window: str, service: str) -> str:
    return hashlib.sha256(f"{built_fingerprint}|{window}|{service}".encode()).hexdigest()


def job_id(fp: str, force: bool = False) -> str:
    """The job id of a submit: the same for the same fingerprint on every machine; a new one
    for ``force=True`` (a deliberate second run)."""
    if force:
        return "job-" + uuid.uuid4().hex[:16]
    return "job-" + fp[:16]


def still_known(client: BatchClient, record: JobRecord, authoritative: bool = True) -> bool:
    """False when the service no longer knows any batch of this record (e.g. a wiped server).

    Where a 404 is not proof (``authoritative=False``: Doubleword answers 404 for any storage
    error) nothing is created anew: ``JobError`` says so (``force=True`` submits again)."""
    ids = [b.batch_id for b in record.batches if b.batch_id]
    if not ids:
        return True  # nothing created yet: resume uploading
    for batch_id in ids:
        try:
            client.get_batch(batch_id)
            return True
        except NotFoundError:
            continue
    if not authoritative:
        try:  # the list may answer while reads of single ids fail
            listed = {b["id"] for b in client.iter_batches(max_pages=2, search=record.job_id)}
        except DwError:
            listed = set()
        if listed.intersection(ids):
            return True
        raise JobError(cannot_see_job(record.name, ids, client.base_url))
    warnings.warn(
        f"the service does not know the batches of job {record.name!r} any more; submitting anew",
        stacklevel=4,
    )
    return False


def record_from_service(
    client: BatchClient, connection: Connection, registry: Registry, key: str
) -> JobRecord | None:
    """The job named ``key`` (its name or job id) rebuilt from its batches' metadata on the
    service, and recorded again in the registry; None when the service has no such batch.
    What the metadata cannot hold (the build arguments, a response_format schema) stays
    unknown: ``attach(name, df)`` then matches rows by the ids the input files sent."""
    try:
        pages = client.iter_batches(page_size=create.LOOKUP_PAGE_SIZE,
                                    max_pages=create.LOOKUP_PAGES, search=key)  # fmt: skip
        found = [b for b in pages if _names(b, key)]
    except (APIError, TransportError):
        return None
    if not found:
        return None
    newest = max(found, key=lambda b: (int(b.get("created_at") or 0), b["id"]))
    job_id = newest["metadata"]["dw_job"]
    batches = [b for b in create.job_batches(client, job_id) if create.chunk_of(b) is not None]
    chosen: dict[tuple[int, int], dict[str, Any]] = {}
    for batch in batches:  # oldest first: the one every kernel keeps for a chunk
        chosen.setdefault(create.chunk_of(batch), batch)  # type: ignore[arg-type]
    counts: dict[str, int] = {}
    bounds: dict[str, dict[str, list[int]]] = {}
    for (attempt, chunk), batch in chosen.items():
        counts[str(attempt)] = max(counts.get(str(attempt), 0), chunk + 1)
        if rows := create.tag_rows(batch):
            bounds.setdefault(str(attempt), {})[str(chunk)] = list(rows)
    first = [b for (attempt, _), b in chosen.items() if attempt == 0] or list(chosen.values())
    user = {k: v for k, v in (newest.get("metadata") or {}).items()
            if not k.startswith("dw_") and isinstance(v, str)}  # fmt: skip
    spec = {
        "endpoint": newest["endpoint"],
        "model": "",
        "window": newest["completion_window"],
        "n_requests": sum(int(b["request_counts"]["total"]) for b in first),
        "schema": None,
        "metadata": user,
        "chunks": counts,
        "bounds": bounds,
    }
    name = newest["metadata"].get("dw_name") or job_id
    registry.new_job(f"service:{job_id}", connection.service_key, name, spec, job_id=job_id)
    for (attempt, chunk), batch in chosen.items():
        if batch.get("input_file_id"):
            registry.record_file(job_id, attempt, chunk, batch["input_file_id"])
        registry.record_batch(job_id, attempt, chunk, batch["id"], batch["status"])
    log.info("rebuilt job %s from the service", job_id)
    return registry.find(job_id)


def _names(batch: dict[str, Any], key: str) -> bool:
    metadata = batch.get("metadata") or {}
    return bool(metadata.get("dw_job")) and key in (metadata.get("dw_job"), metadata.get("dw_name"))


def job_from_record(
    record: JobRecord,
    client: BatchClient,
    connection: Connection,
    registry: Registry,
    df: Any,
    built: Any = None,
    estimate: Any = None,
) -> Job:
    return Job(
        client=client,
        connection=connection,
        registry=registry,
        job_id=record.job_id,
        name=record.name,
        spec=record.spec,
        df=df,
        built=built,
        estimate=estimate,
        records=record.batches,
        service=record.service,
    )


def job_for(
    fp: str,
    spec: dict[str, Any],
    name: str,
    *,
    connection: Connection,
    registry: Registry,
    client: BatchClient,
    force: bool,
    df: Any,
    built: Any,
    estimate: Any,
) -> Job:
    """The job recorded under ``fp`` (with this call's budget), else a new one recorded under
    it with ``spec`` and ``name``; a job still sending its submit in this process is returned
    as it is (the caller sends nothing more: ``job.sending``)."""
    existing = None if force else registry.find_by_fingerprint(fp, connection.service_key)
    if existing is not None and (job := running_job(existing.job_id)) is not None:
        return job
    if existing is not None and still_known(client, existing, connection.simulated):
        log.info("re-attaching to job %s", existing.job_id)
        job = job_from_record(existing, client, connection, registry, df, built, estimate)
        job.spec["budget"] = spec["budget"]  # the budget of this call, not of the first one
        for option in ("max_requests", "max_bytes"):  # how the rest is split (after a 413)
            if option in spec:
                job.spec[option] = spec[option]
        return job
    new_id = registry.new_job(fp, connection.service_key, name, spec, job_id=job_id(fp, force))
    job = Job(client=client, connection=connection, registry=registry, job_id=new_id,
              name=name, spec=spec, df=df, built=built, estimate=estimate)  # fmt: skip
    # only a forced job's id is new to every service; any other may exist there already (made
    # by a kernel whose data dir is gone, or by another kernel right now): look before creating
    job.fresh = force
    return job
