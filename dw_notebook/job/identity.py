"""Which job a submit is: the fingerprint of its requests, window and service, and the job
already recorded under it (still sending in this process, or still known to the service), else a
new one. Shared by the submit of a frame and of a dataset, so a re-run never pays twice."""

from __future__ import annotations

import hashlib
import logging
import warnings
from typing import Any

from ..client import BatchClient
from ..config import Connection
from ..errors import DwError, JobError, NotFoundError, cannot_see_job
from .core import Job
from .registry import JobRecord, Registry
from .sending import running_job

log = logging.getLogger(__name__)


def fingerprint(built_fingerprint: str, window: str, service: str) -> str:
    return hashlib.sha256(f"{built_fingerprint}|{window}|{service}".encode()).hexdigest()


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
            listed = {b["id"] for b in client.iter_batches(max_pages=2)}
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
        return job
    job_id = registry.new_job(fp, connection.service_key, name, spec)
    job = Job(client=client, connection=connection, registry=registry, job_id=job_id,
              name=name, spec=spec, df=df, built=built, estimate=estimate)  # fmt: skip
    job.fresh = True
    return job
