"""Every error dw-notebook raises, in one tree.

    DwError
    ├── ConfigError              no usable connection settings
    ├── BudgetExceededError      the cost estimate is over ``budget=``
    ├── JobError                 a batch ended in a way the requested operation cannot use
    ├── RegistryError            the local registry is damaged, full or cannot be written
    │   └── MissingResultFileError   an output or error file is gone: row outcomes unknown
    ├── TransportError           the network failed and retries are used up
    └── APIError                 the service answered with an HTTP error
        ├── BadRequestError          400 (bad file or parameters)
        ├── AuthenticationError      401
        ├── InsufficientCreditsError 402
        ├── PermissionDeniedError    403
        ├── NotFoundError            404
        ├── ConflictError            409 (e.g. cancelling a finished batch)
        ├── FileTooLargeError        413
        ├── RateLimitError           429
        │   └── ServiceBusyError         429/503 refusals outlasted ``patience=``
        └── ServerError              5xx

Build and validation errors (bad input rows) live in ``dw_notebook.jsonl.requests.errors``
and derive from ``ValueError``.
"""

from __future__ import annotations


class DwError(Exception):
    """Base class of every dw-notebook error."""


class ConfigError(DwError):
    pass


class BudgetExceededError(DwError):
    def __init__(self, message: str, estimate: object = None) -> None:
        super().__init__(message)
        self.estimate = estimate


def budget_advice(window: str) -> str:
    """What to do about an estimate over the budget (the 24h window is cheaper only than 1h)."""
    cheaper = " or use the 24h window" if window == "1h" else ""
    return f"Raise budget=, shorten prompts or lower max_tokens{cheaper}."


class JobError(DwError):
    pass


class RegistryError(DwError):
    """The local registry (a cache of what the service knows) cannot be read or written."""


class MissingResultFileError(JobError):
    """Output or error files that batches name but the service no longer has.

    ``gone`` lists ``(batch_id, "output" | "error", file_id)``.
    """

    def __init__(self, gone: list[tuple[str, str, str]], rows: int | None = None) -> None:
        self.gone = list(gone)
        self.rows = rows
        names = "; ".join(f"the {kind} file {fid} of batch {bid}" for bid, kind, fid in gone[:5])
        more = f" (and {len(gone) - 5} more)" if len(gone) > 5 else ""
        count = f"{rows:,} rows" if rows is not None else "those rows"
        super().__init__(
            f"{names}{more}: gone from the service (deleted, or past its expiry), so the outcome "
            f"of {count} is unknown and nothing was joined. If you saved the file, join it "
            "with dw_notebook.jsonl.results.join_results; job.join(missing_files='not_run') "
            "joins the rest and marks those rows not_run; job.retry(unknown=True) sends them "
            "again (they may have been answered and paid for already)."
        )


class TransportError(DwError):
    pass


class APIError(DwError):
    """An HTTP error answer; ``message`` is what the service said, whatever its dialect."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        body: object = None,
        retry_after: float | None = None,
    ) -> None:
        self.hint = http_advice(status_code, code, message)
        said = message.rstrip(". ") if self.hint else message  # "... bytes." + ". Fix:" reads badly
        super().__init__(f"{status_code}: {said}" + (f". {self.hint}" if self.hint else ""))
        self.message = message
        self.status_code = status_code
        self.code = code
        self.body = body
        self.retry_after = retry_after


class BadRequestError(APIError):
    pass


class AuthenticationError(APIError):
    pass


class InsufficientCreditsError(APIError):
    pass


class PermissionDeniedError(APIError):
    pass


class NotFoundError(APIError):
    pass


class ConflictError(APIError):
    pass


class FileTooLargeError(APIError):
    pass


class RateLimitError(APIError):
    pass


class ServerError(APIError):
    pass


class ServiceBusyError(RateLimitError):
    """The service refused (429, or 503) for longer than the job's ``patience=``."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: FileTooLargeError,
    429: RateLimitError,
}


def api_error_class(status_code: int) -> type[APIError]:
    if status_code >= 500:
        return ServerError
    return _BY_STATUS.get(status_code, APIError)


# -- what to do about the errors users meet most ------------------------------------------------

_MODEL_ADVICE = (
    "Fix: use a model the service lists (dw.models() lists them); names "
    "are case-sensitive and include the organisation, e.g. 'Qwen/Qwen3.5-9B'."
)
_HTTP_ADVICE = {
    401: "Fix: check the API key (DOUBLEWORD_API_KEY, ~/.dw/credentials.toml, or api_key=); "
    "a key for another service or a revoked key is refused.",
    402: "Fix: the account is out of credits; add credits in the Doubleword console, then "
    "re-run the same cell (it resumes the job, nothing is paid twice).",
    403: "Fix: this key may not use this model or resource; check the model name, or ask the "
    "account owner for access.",
    413: "Fix: the file is larger than the service accepts; pass a smaller max_bytes= (or "
    "max_requests=) to dw.submit so the job is split into smaller files.",
    429: "Fix: the service refuses more work for now (a rate limit, or no capacity left for "
    "this completion window); re-run the same cell later (it resumes the job, nothing is sent "
    "twice), or submit with window='24h', which has more capacity than '1h'.",
}
BATCH_ERROR_ADVICE = {
    "model_not_found": _MODEL_ADVICE,
    "mismatched_model": "Fix: one model per batch; submit each model as its own job.",
    "invalid_json_line": "Fix: the request line is not valid JSON; build requests with "
    "dw.prepare(...) and look at .preview().",
    "missing_required_parameter": "Fix: the request lacks the parameter named above; build "
    "requests with dw.prepare(...) and look at .preview().",
    "invalid_url": "Fix: the endpoint is not one this service batches; use endpoint='chat', "
    "'embeddings', 'completions' or 'responses' ('moderations' on OpenAI only).",
    "streaming_unsupported": "Fix: remove stream=True; batches do not stream.",
    "duplicate_custom_id": "Fix: custom_ids must be unique; pass id_column= with unique "
    "values, or leave ids to the index.",
    "token_limit_exceeded": "Fix: too many tokens are queued for this model; wait for other "
    "batches to finish, or split the job (max_requests=).",
}
STUCK_VALIDATING_ADVICE = (
    "large files take a while to validate; if it stays here, look at the batch on the service "
    "(dw.jobs()) or cancel it (job.cancel(): a batch the service has not started ends with "
    "nothing run) and send its rows again with job.retry()"
)


def cannot_see_job(name: str, batch_ids: list[str], base_url: str) -> str:
    """A re-run whose batches the service answers 404 for: not taken as gone."""
    ids = ", ".join(batch_ids[:3]) + (
        f" and {len(batch_ids) - 3} more" if len(batch_ids) > 3 else ""
    )
    return (
        f"the service at {base_url} answers 404 for every batch of job {name!r} ({ids}); "
        "Doubleword answers 404 for any storage error, so they may well still exist and run. "
        "Nothing was created: run the same cell again later. If they are truly gone, pass "
        "force=True to submit anew (that pays again for any row they answered)."
    )


def http_advice(status_code: int, code: str | None = None, message: str = "") -> str:
    """What to do about an HTTP error answer ('' when there is nothing specific to say)."""
    about_model = code == "model_not_found" or "model" in message.lower()
    if status_code in (403, 404) and about_model:
        return _MODEL_ADVICE
    return _HTTP_ADVICE.get(status_code, "")
