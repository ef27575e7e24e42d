"""A job whose rows come from a dataset beyond memory (parquet paths, a glob, a directory).

``submit`` builds the requests record batch by record batch into request files on disk and
returns the job while its thread uploads and creates the batches as for a frame; the spec
records the dataset's files and the fingerprint covers every request line, so a changed file is
another job, and ``attach`` (or a re-run of the cell) can read the files again to finish a
submit that stopped half-way.
"""

from __future__ import annotations

from typing import Any

import orjson

from .. import wire
from ..client import client_for
from ..config import Connection
from ..errors import JobError
from ..jsonl.requests import BuildError
from ..jsonl.requests.dataset import BATCH_ROWS, DatasetRequests, build_dataset
from ..progress.terminal import RowsProgress
from .core import Job
from .create import refuse_estimate
from .identity import fingerprint, job_for
from .registry import Registry

#: Seconds of reading a dataset in the submit call before the rows read are shown.
ROWS_SHOWN_AFTER = 1.0


def prepare(source: Any, build_args: dict[str, Any]) -> DatasetRequests:
    """The requests of a dataset, counted and previewed, nothing written or sent."""
    return build_dataset(source, **build_args)


def submit(source: Any, build_args: dict[str, Any], *, pilot: int | None, **options: Any) -> Job:
    """``dw.submit`` for a dataset source: bounded memory from build to upload
    (``batch_rows=`` in ``build_args``: rows read and built at a time). ``options`` are those
    of ``_job_for`` (connection, registry, window, name, budget, limits...)."""
    build_args = dict(build_args)
    batch_rows = build_args.pop("batch_rows", BATCH_ROWS)
    if pilot is not None:
        raise JobError(
            "pilot= samples rows of a pandas DataFrame; for a dataset, submit a sample first "
            "(e.g. dw.submit(pd.read_parquet(path).head(10), ...)), then the dataset"
        )
    if callable(build_args.get("prompt")):
        raise BuildError(
            "a dataset source needs a template prompt ('... {column} ...') or input_column=, "
            "so the job can rebuild its requests from the files after a restart; a prompt "
            "function works with a pandas DataFrame"
        )
    shown = RowsProgress("reading rows", after=ROWS_SHOWN_AFTER)  # the job has no widget yet
    limits = {"max_requests": options["max_requests"], "max_bytes": options["max_bytes"]}
    requests = build_dataset(
        source, **build_args, batch_rows=batch_rows, spool=True, **limits,
        max_line_bytes=line_limit(limits["max_bytes"]), on_rows=shown.update,
    )  # fmt: skip
    shown.close()
    try:
        job, chunks = _job_for(requests, build_args, batch_rows=batch_rows, **options)
    except BaseException:
        requests.close()
        raise
    if job.sending:  # the same submit, still uploading on its thread: never send twice
        requests.close()
        return job
    job.send_in_background(lambda: _send(job, requests, chunks))
    return job


def _send(job: Job, requests: DatasetRequests, chunks: Any) -> None:
    """The uploads and creates, on the job's thread; the spooled request files go after."""
    with requests:
        job.create_batches(chunks, attempt=0)


def _job_for(
    requests: DatasetRequests,
    build_args: dict[str, Any],
    *,
    connection: Connection,
    registry: Registry,
    window: str,
    name: str | None,
    metadata: dict[str, str] | None,
    budget: float | None,
    price: tuple[float, float] | None,
    force: bool,
    max_requests: int,
    max_bytes: int,
    batch_rows: int,
) -> tuple[Job, Any]:
    """The job of these built requests (the one already recorded for them, or a new one) and
    the chunks to send; refuses an empty dataset and one over the budget."""
    if not requests.n:
        raise BuildError(
            f"nothing to send: the dataset has {requests.n_rows:,} rows and "
            f"{requests.n_skipped:,} were skipped (missing='skip')",
            requests.skipped,
        )
    prices = {requests.model: {window: price}} if price is not None else None
    estimate = requests.estimate(window, prices)
    refuse_estimate(estimate.usd, budget, estimate, window)
    fp = fingerprint(requests.fingerprint(), window, connection.service_key)
    chunks = requests.chunks(max_requests, max_bytes)
    spec = {
        "endpoint": requests.endpoint,
        "model": requests.model,
        "window": window,
        "n_requests": requests.n,
        "schema": requests.schema,
        "metadata": metadata or {},
        "max_requests": max_requests,
        "max_bytes": max_bytes,
        "budget": budget,
        "estimated_usd": estimate.usd,
        "build": _stored_args(build_args, requests),
        "built_fingerprint": requests.fingerprint(),
        "dataset": {
            "paths": requests.paths,
            "format": requests.format,
            "id_column": requests.id_column,
            "batch_rows": batch_rows,
            "n_rows": requests.n_rows,
            "chunk_rows": [list(c.rows) for c in chunks],
        },
    }
    name = name or f"{requests.model}-{requests.n}rows-{requests.fingerprint()[:6]}"
    job = job_for(fp, spec, name, connection=connection, registry=registry,
                  client=client_for(connection), force=force, df=None, built=None,
                  estimate=estimate)  # fmt: skip
    job.build_args = build_args
    return job, chunks


def resume(job: Job) -> None:
    """Finish a dataset job's submit that stopped half-way: read its files again, check they
    still give the same requests, and create the batches that are missing."""
    spec, source = job.spec, job.spec["dataset"]
    requests = build_dataset(
        source["paths"], **spec["build"], batch_rows=source["batch_rows"], spool=True,
        max_requests=spec["max_requests"], max_bytes=spec["max_bytes"],
        max_line_bytes=line_limit(spec["max_bytes"]),
    )  # fmt: skip
    with requests:
        if requests.fingerprint() != spec["built_fingerprint"]:
            raise JobError(
                f"the files of job {job.name!r} changed since it was submitted, so the batches it "
                "never created cannot be made from them; submit the files again as a new job"
            )
        job.create_batches(requests.chunks(spec["max_requests"], spec["max_bytes"]), attempt=0)


def line_limit(max_bytes: int) -> int:
    """A line that cannot fit in any file is refused at build time, naming its row."""
    return min(max_bytes, wire.MAX_FILE_BYTES) - 1


def _stored_args(build_args: dict[str, Any], requests: DatasetRequests) -> dict[str, Any]:
    """The build arguments as JSON (a response_format model becomes its schema)."""
    args = dict(build_args)
    if args.get("response_format") is not None:
        args["response_format"] = requests.schema
    try:
        return orjson.loads(orjson.dumps(args))
    except TypeError as exc:
        raise BuildError(
            f"the build arguments of a dataset job must be plain values (text, numbers, lists, "
            f"dicts) so it can be rebuilt after a restart: {exc}"
        ) from None
