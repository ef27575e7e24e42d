"""From a DataFrame to running batches: build, estimate, record, upload, create; and re-attach.

Idempotent: the fingerprint of the work (request bytes, endpoint, window, service) is recorded
before upload, every file and batch id right after the service returns it. Re-running the same
call finds the job and resumes or re-attaches instead of paying twice. Building, the checks that
refuse bad input and the budget run in the call; the uploads and creates on the job's background
thread (``dw_notebook.job.sending``), so the call returns at once.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any

import orjson
import pandas as pd

from .. import wire
from ..client import DEFAULT_PATIENCE, client_for
from ..config import OTHER_LIMITS, Connection, Limits, limits_for, remote_connection
from ..errors import (
    BadRequestError,
    JobError,
    NotFoundError,
)
from ..jsonl.requests.dataset import DatasetRequests, is_dataset_source
from ..jsonl.results.join import output_columns, refuse_clash
from . import dataset, listing
from . import pilot as pilots
from .core import Job
from .create import max_output_of, refuse_estimate, upper_bound_usd
from .identity import fingerprint, job_for, job_from_record, record_from_service
from .registry import Registry
from .requests import rebuild
from .sending import running_job

log = logging.getLogger(__name__)


def connect(api_key: str | None = None, base_url: str | None = None) -> Connection:
    """The configured remote service, else the embedded local server."""
    connection = remote_connection(api_key, base_url)
    if connection is not None:
        return connection
    if base_url:  # a server that needs no key (a local vLLM, a test server): no auth header
        return Connection(base_url, "")
    from ..local import local_connection

    return local_connection()


def models(api_key: str | None = None, base_url: str | None = None) -> list[str]:
    """The model names offered by the service ``dw.submit`` would use, e.g.
    ``['Qwen/Qwen3.5-9B', ...]``."""
    return client_for(connect(api_key, base_url)).list_models()


def prepare(
    df: pd.DataFrame,
    prompt: str | Callable[[pd.Series], list[dict]] | None = None,
    *,
    model: str | None = None,
    **kwargs: Any,
) -> Any:
    """The requests ``submit`` would send, validated, nothing sent: ``.preview(n)`` shows them.

    >>> built = dw.prepare(df, "Sentiment of: {review}", model="Qwen/Qwen3.5-9B")  # doctest: +SKIP
    >>> built.preview(2)                                                           # doctest: +SKIP
    >>> dw.estimate(built, window="1h")                                            # doctest: +SKIP
    """
    from ..jsonl.requests import BuildError, build_requests

    if model is None:
        raise BuildError("prepare() needs model=, e.g. dw.prepare(df, prompt, model='mock').")
    if is_dataset_source(df):  # parquet paths, a glob, a directory: read in record batches
        return dataset.prepare(df, {"prompt": prompt, "model": model, **kwargs})
    return build_requests(df, prompt=prompt, model=model, **kwargs)


def estimate(built: Any, window: str = "24h") -> Any:
    """Cost estimate of built requests (input tokens ≈ bytes ÷ 4, output bounded by max_tokens)."""
    from ..jsonl.requests.estimate import estimate_cost

    if isinstance(built, DatasetRequests):
        return built.estimate(window)
    return estimate_cost(built, window=window)


def submit(
    df: pd.DataFrame,
    prompt: str | Callable[[pd.Series], list[dict]] | None = None,
    *,
    model: str,
    system: str | None = None,
    examples: list[dict] | None = None,
    endpoint: str = "chat",
    input_column: str | None = None,
    response_format: Any = None,
    tools: list[dict] | None = None,
    missing: str = "error",
    window: str = "24h",
    name: str | None = None,
    metadata: dict[str, str] | None = None,
    budget: float | None = None,
    price: tuple[float, float] | None = None,
    force: bool = False,
    max_requests: int = wire.MAX_REQUESTS_PER_FILE,
    max_bytes: int | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
    registry: Registry | None = None,
    pilot: int | None = None,
    pilot_by: str | None = None,
    output_prefix: str | None = None,
    patience: float | None = DEFAULT_PATIENCE,
    **params: Any,
) -> Job:
    """Build one request per row and return the live job; the uploads and the batches are made
    on its background thread (``job`` shows them; ``wait()`` / ``join()`` raise their errors).

    >>> job = dw.submit(df, "Sentiment of this review, one word: {review}", model="mock")
    >>> job           # doctest: +SKIP  (live progress widget)
    >>> job.join()    # doctest: +SKIP  (df with the answers joined by custom_id)

    Re-running the same call re-attaches to the job it already created; ``force=True`` submits
    again. ``budget=`` (USD) refuses to submit when the whole job's estimate is over it (the
    service's estimate where it gives one); a model without a known price needs ``price=(input,
    output)`` in USD per 1M tokens, or ``budget=None``. ``patience=`` (seconds) bounds how long
    the job waits out a service that refuses for now (429 / 503 with Retry-After); the wait shows
    in its progress, and past it the job stops with ``ServiceBusyError`` (nothing is lost).

    Rows are matched to answers by custom_id: the index label where it is a usable id (1-64
    printable ASCII characters, unique), else an id derived from the label and the values the
    row's request uses, so a sorted or filtered frame joins the same rows after
    ``dw.attach(name, df)``. ``id_column="key"`` uses a column of unique ids instead.
    ``pilot=10`` sends only 10 rows spread over the frame (over the values of column
    ``pilot_by=`` if given) on the 1h window where offered; ``job.pilot_report()`` shows what
    they measured and ``job.proceed()`` sends the rest (see ``dw_notebook.job.pilot``).

    Every option of ``dw.prepare`` is taken (``id_column=``, ``max_line_bytes=``, ...). A
    result column that would overwrite one of the frame's (``status``, ``content``, ...) is
    refused before anything is sent; ``output_prefix="dw_"`` names them ``dw_status``, ...
    """
    from ..jsonl.requests import build_requests
    from ..jsonl.requests.estimate import estimate_cost

    if window not in wire.COMPLETION_WINDOWS:
        raise ValueError(f"window must be one of {sorted(wire.COMPLETION_WINDOWS)}, not {window!r}")
    build_args = {
        "model": model, "prompt": prompt, "system": system, "examples": examples,
        "endpoint": endpoint, "input_column": input_column, "response_format": response_format,
        "tools": tools, "missing": missing, **params,
    }  # fmt: skip
    remote = remote_connection(api_key, base_url)  # (the embedded server is not started yet)
    limits = limits_for(remote) if remote is not None else OTHER_LIMITS
    max_bytes = max_bytes or limits.max_file_bytes
    if is_dataset_source(df):  # parquet paths, a glob, a directory: built in record batches
        return dataset.submit(
            df, build_args, connection=connect(api_key, base_url), registry=registry or Registry(),
            window=window, name=name, metadata=metadata, budget=budget,
            price=price, force=force, max_requests=max_requests, max_bytes=max_bytes, pilot=pilot,
        )  # fmt: skip
    # a line that cannot fit in any file is refused here, naming its row
    line_limit = dataset.line_limit(max_bytes)
    if build_args.get("max_line_bytes") is not None:  # prepare's option, taken here too
        line_limit = min(int(build_args.pop("max_line_bytes")), line_limit)
    built = build_requests(df, **build_args, max_line_bytes=line_limit)
    refuse_empty(df, built)
    extra = ["attempt", "phase", "earlier_prompt"] if pilot is not None else ["attempt"]
    ours = output_columns(built.endpoint, built.schema, tools=bool(tools), extra=extra)
    refuse_clash(df.columns, ours, output_prefix or "")
    refuse_endpoint(built.endpoint, limits, remote)
    prices = {built.model: {window: price}} if price is not None else None
    estimate = estimate_cost(built, window=window, prices=prices)
    pilot_plan = None if pilot is None else pilots.plan(df, built, pilot, pilot_by)
    # a pilot sends only its rows now; proceed() checks the whole job on measured figures
    share = 1.0 if pilot_plan is None else pilot_plan["n"] / max(built.n, 1)
    max_output = max_output_of(params)
    bound = upper_bound_usd(estimate, max_output)
    usd = None if bound is None else bound * share
    refuse_estimate(usd, budget, estimate, window, capped=max_output is not None)
    connection = connect(api_key, base_url)
    registry = registry or Registry()
    client = client_for(connection)
    fp = fingerprint(built.fingerprint(), window, connection.service_key)
    if pilot is not None:  # a pilot job is another job than the same rows sent at once
        fp = fingerprint(fp, f"pilot={pilot}:{pilot_by}", connection.service_key)
    chunks = built.chunks(max_requests=max_requests, max_bytes=max_bytes)
    spec = {
        "endpoint": built.endpoint,
        "model": built.model,
        "window": window,
        "n_requests": built.n,
        "schema": built.schema,
        "metadata": metadata or {},
        "max_requests": max_requests,
        "max_bytes": max_bytes,
        "budget": budget,
        "estimated_usd": estimate.usd,  # the local estimate, for a resume without the frame
        "bound_usd": bound,  # what the job can cost at most, as far as can be told
        "max_output_tokens": max_output,
        "build": _replayable(build_args, built),
        "built_fingerprint": built.fingerprint(),
    }
    if output_prefix:
        spec["output_prefix"] = output_prefix
    if pilot_plan is not None:
        spec["pilot"] = pilot_plan
    job = job_for(fp, spec, name or _default_name(df, built), connection=connection,
                  registry=registry, client=client, force=force, df=df, built=built,
                  estimate=estimate)  # fmt: skip
    if job.sending:
        return job  # the same call, still uploading on its thread: never send twice
    job.patience = patience
    job.build_args = build_args
    if pilot is not None:
        job.send_in_background(lambda: pilots.send(job))
    else:
        job.send_in_background(lambda: job.create_batches(chunks, attempt=0))
    return job


def refuse_endpoint(endpoint: str, limits: Limits, connection: Connection | None) -> None:
    """An endpoint the service does not batch is refused before anything is sent."""
    if endpoint in limits.endpoints:
        return
    where = connection.base_url if connection is not None else "this service"
    offered = ", ".join(e.removeprefix("/v1/") for e in limits.endpoints)
    raise JobError(
        f"{where} does not batch {endpoint} (it batches {offered}); nothing was sent. "
        "For moderation labels, use endpoint='chat' with a response_format of the labels"
    )


def refuse_empty(df: pd.DataFrame, built: Any) -> None:
    """A job with nothing to send is refused, with the reason (it would wait forever)."""
    from ..jsonl.requests import BuildError

    if built.n:
        return
    if len(df) == 0:
        raise BuildError("nothing to send: the DataFrame has no rows")
    shown = ", ".join(repr(r) for r in built.skipped[:5])
    more = f" and {len(built.skipped) - 5} more" if len(built.skipped) > 5 else ""
    raise BuildError(
        f"nothing to send: missing='skip' skipped every row ({len(built.skipped)}: {shown}{more}) "
        "because a column the prompt uses is empty; fill the values or use missing='empty'",
        built.skipped,
    )


def _replayable(build_args: dict[str, Any], built: Any) -> dict[str, Any] | None:
    """The build arguments as JSON, so ``attach`` can rebuild the exact requests from the same
    DataFrame (custom_ids, skipped rows, prompts); None when they cannot be stored (a prompt
    function, objects that are not JSON)."""
    args = dict(build_args)
    if args.get("response_format") is not None:
        args["response_format"] = built.schema
    if callable(args.get("prompt")):
        return None
    try:
        return orjson.loads(orjson.dumps(args))
    except TypeError:
        return None


def _default_name(df: pd.DataFrame, built: Any) -> str:
    return f"{built.model}-{built.n}rows-{built.fingerprint()[:6]}"


def attach(
    key: str,
    df: pd.DataFrame | None = None,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    registry: Registry | None = None,
) -> Job:
    """Restore a job after a kernel restart, by job name, job id or batch id.

    >>> job = dw.attach("reviews-run", df)   # doctest: +SKIP
    >>> job.join()                            # doctest: +SKIP

    A batch id unknown to the local registry is attached straight from the service.
    ``df`` may be sorted, filtered or have new columns: rows are matched to the requests the job
    sent by custom_id; when fewer than most rows match, ``JobError`` says how many and what to do.
    """
    registry = registry or Registry()
    connection = connect(api_key, base_url)
    client = client_for(connection)
    record = registry.find(key)
    if record is None:  # the registry lost it (another machine, a deleted or damaged file)
        record = record_from_service(client, connection, registry, key)
    if record is not None and (job := running_job(record.job_id)) is not None:
        return job  # its submit is still sending on a thread of this process
    if record is not None:
        built = rebuild(record.spec, df) if df is not None else None
        job = job_from_record(record, client, connection, registry, df, built)
        if df is not None and built is None:
            job.match_frame()  # sorted, filtered or another frame: match rows by id, or raise
        if job.missing_chunks() and record.spec.get("dataset"):
            dataset.resume(job)  # the job's files are read again
        elif job.missing_chunks():
            job.resume(built)
        return job
    try:
        batch = client.get_batch(key)
    except (NotFoundError, BadRequestError):  # Doubleword: 400 "Invalid batch ID format"
        raise JobError(
            f"no job or batch called {key!r} in the local registry or on {connection.base_url}; "
            "see dw.jobs() for what exists"
        ) from None
    spec = {
        "endpoint": batch["endpoint"],
        "model": "",
        "window": batch["completion_window"],
        "n_requests": batch["request_counts"]["total"],
        "schema": None,
        "metadata": batch.get("metadata") or {},
    }
    job_id = registry.new_job(f"attached:{key}", connection.service_key, key, spec)
    registry.record_batch(job_id, 0, 0, key, batch["status"])
    job = job_from_record(registry.find(job_id), client, connection, registry, df)
    if df is not None:
        job.match_frame()
    return job


def list_jobs(
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    server: bool = True,
    registry: Registry | None = None,
) -> pd.DataFrame:
    """Every batch of the local registry and (``server=True``) of the service, newest first,
    as a DataFrame (``dw.jobs()`` shows the same as a live dashboard).

    Columns, always the same: job, job_id, attempt, chunk, batch_id, status, where (on the
    service, not checked, on another local server, not found on the service, service
    unreachable), model, endpoint, window, total, completed, failed, input_tokens,
    output_tokens (integers, ``<NA>`` when unknown), cost_usd (the service's own figure where it
    gives one: Doubleword's analytics), created_at and ended_at (UTC datetimes).
    """
    registry = registry or Registry()
    remote = remote_connection(api_key, base_url)
    # listing only the registry must not start the embedded server
    connection = connect(api_key, base_url) if server or remote else None
    service_key = connection.service_key if connection else "local"
    rows = listing.registry_rows(registry.all_jobs(), service_key)
    if connection is not None and server:
        client = client_for(connection)
        error = listing.add_service_rows(rows, client, local=connection.simulated)
        if error:
            warnings.warn(f"could not list the service's batches: {error}", stacklevel=2)
    return listing.frame(rows.values())
