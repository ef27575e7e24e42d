"""Pilot runs: send a small stratified sample first, measure it, then send the rest.

``dw.submit(df, ..., pilot=10)`` sends 10 rows spread over the frame (or over the values of
``pilot_by=``, a column) as attempt 0 of the job, on the 1h window where the service offers it.
``job.pilot_report()`` shows their answers and the measured figures; ``job.proceed()`` sends every
other row as attempt 1 on the window asked for; the pilot's rows are never sent again. The join
says where each answer came from in ``attempt`` and ``phase`` (``pilot``, ``rest``, ``retry N``).
``job.proceed(prompt=..., max_tokens=...)`` sends the rest with changes (a later retry sends rows
the same way), and the join marks the pilot's answers ``earlier_prompt``. The budget (the
proceed's, else the submit's) is checked against the pilot's measured cost, not bytes ÷ 4.

The plan (sampled custom_ids, windows, what ``proceed`` changed) lives in the job's spec, so a
restarted kernel attaching the job knows which rows were the pilot.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import orjson
import pandas as pd

from .. import wire
from ..errors import (
    BadRequestError,
    BudgetExceededError,
    JobError,
    MissingResultFileError,
    RateLimitError,
    budget_advice,
)
from . import create, pilot_findings, retry
from .pilot_prompts import own_texts
from .pilot_report import PilotFigures, PilotReport, answer_columns, extrapolate
from .reading import join_frame

PILOT, REST = 0, 1


def first_send(attempt: int, spec: dict[str, Any]) -> bool:
    """Whether an attempt sent its rows for the first time: attempt 0, and after a pilot the
    rest (attempt 1) too; later attempts are retries of rows sent before."""
    proceeded = (spec.get("pilot") or {}).get("proceeded")
    return attempt == 0 or (attempt == REST and bool(proceeded))


PILOT_WINDOW = "1h"
#: build arguments ``proceed`` may change (the rest is rebuilt with them); any other change is a
#: body field (``max_tokens``, ``temperature``...).
REBUILD_ARGS = ("prompt", "system", "examples")
FIXED_ARGS = (
    "model",
    "endpoint",
    "input_column",
    "response_format",
    "tools",
    "id_column",
    "missing",
)


def sample(df: pd.DataFrame, built: Any, n: int, by: str | None = None) -> list[int]:
    """Indices of ``n`` requests of ``built`` spread evenly over the frame, or over each value
    of column ``by`` in proportion to its rows (every value gets one while ``n`` allows)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"pilot must be a positive number of rows, not {n!r}")
    total = built.n
    if n >= total:
        return list(range(total))
    if by is None:
        return _spread(np.arange(total), n)
    if by not in df.columns:
        raise ValueError(
            f"pilot_by={by!r} is not a column; the columns are {list(df.columns)}. "
            "Fix: name the column whose values the pilot should cover."
        )
    values = df[by].iloc[np.asarray(built.positions, dtype=np.int64)].reset_index(drop=True)
    by_value = values.groupby(values, dropna=False, sort=True).indices
    groups = [np.asarray(g) for g in by_value.values()]
    groups.sort(key=len, reverse=True)
    quota = _allocate([len(g) for g in groups], n)
    picked = [i for g, k in zip(groups, quota, strict=True) if k for i in _spread(g, k)]
    return sorted(picked)


def _spread(items: np.ndarray, k: int) -> list[int]:
    """``k`` items evenly spaced over ``items`` (the middle of each of k equal stretches)."""
    at = np.floor((np.arange(k) + 0.5) * len(items) / k).astype(np.int64)
    return [int(items[i]) for i in at]


def _allocate(sizes: list[int], n: int) -> list[int]:
    """Rows per group: one each (largest groups first) while ``n`` allows, the rest in
    proportion to the group sizes (largest remainders), never more than a group has."""
    quota = [1 if i < n else 0 for i in range(len(sizes))]
    left = n - sum(quota)
    while left > 0:
        room = [s - q for s, q in zip(sizes, quota, strict=True)]
        share = np.array([s if r > 0 else 0 for s, r in zip(sizes, room, strict=True)], float)
        want = share / share.sum() * left
        add = np.minimum(np.floor(want).astype(int), room)
        if add.sum() == 0:
            add[int(np.argmax(want - np.floor(want)))] = 1
        quota = [q + int(a) for q, a in zip(quota, add, strict=True)]
        left -= int(add.sum())
    return quota


def plan(df: pd.DataFrame, built: Any, n: int, by: str | None = None) -> dict[str, Any]:
    """The pilot's part of a job spec: which custom_ids it sends, on which window."""
    chosen = sample(df, built, n, by)
    return {
        "n": len(chosen),
        "by": by,
        "window": PILOT_WINDOW,
        "ids": [built.custom_ids[i] for i in chosen],
    }


def send(job: Any) -> None:
    """Create the pilot's batch (attempt 0) on the pilot window, falling back to the job's own
    window where the service refuses 1h (OpenAI offers 24h only)."""
    pilot = job.spec["pilot"]
    index = {cid: i for i, cid in enumerate(job.built.custom_ids)}
    lines = [job.built.line(index[cid]) for cid in pilot["ids"]]
    chunks = retry.pack_for(job.spec, lines)
    try:
        job.create_batches(chunks, attempt=PILOT, window=pilot["window"])
    except (BadRequestError, RateLimitError) as exc:
        # OpenAI: 400 "completion_window"; Doubleword: 429 "Insufficient capacity for 1h
        # completion window" (asked once: a pilot falls back at once instead of waiting)
        if not create.window_refused(exc) or pilot["window"] == job.spec["window"]:
            raise
        pilot["window"] = job.spec["window"]
        job._registry.update_spec(job.id, job.spec)
        job.create_batches(chunks, attempt=PILOT, window=pilot["window"])


def _pilot_of(job: Any) -> dict[str, Any]:
    pilot = job.spec.get("pilot")
    if not pilot:
        raise JobError(f"job {job.name!r} has no pilot; submit with pilot=10 to run one")
    if job.built is None:
        raise JobError(
            f"attach the job with the DataFrame it was submitted with: dw.attach({job.name!r}, df)"
        )
    return pilot


def pilot_rows(job: Any, timeout: float | None = None) -> pd.DataFrame:
    """The pilot's rows joined (waits until the pilot's batches have ended)."""
    pilot = _pilot_of(job)
    ids = [r.batch_id for r in job._records if r.attempt == PILOT and r.batch_id]
    if not ids:  # its batch is made on the submit's thread (a failed proceed's error is not its)
        job.wait_submitted(timeout)
        ids = [r.batch_id for r in job._records if r.attempt == PILOT and r.batch_id]
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        with job._lock:
            job._tracker.poll(job._client, ids, job._registry)
            batches = [job._tracker.batches.get(i) for i in ids]
        if ids and all(b and b["status"] in wire.TERMINAL_STATUSES for b in batches):
            break
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError(f"the pilot of job {job.name!r} has not ended after {timeout} s")
        time.sleep(0.25 if job.connection.simulated else 3.0)
    outputs, errors, gone = job._reader.files(ids, job._tracker.batches)
    if gone:
        raise MissingResultFileError(gone, len(pilot["ids"]))
    frame = join_frame(job.df, job._ids(), job.spec, job._records, outputs, errors)
    frame = label(frame, job.spec)
    wanted = set(pilot["ids"])
    positions = [
        int(job.built.positions[i]) for i, cid in enumerate(job.built.custom_ids) if cid in wanted
    ]
    rows = frame.iloc[positions].copy()
    bodies = [orjson.loads(job.built.line(i))["body"]
              for i, cid in enumerate(job.built.custom_ids) if cid in wanted]  # fmt: skip
    prompts, shared = own_texts(bodies)
    rows.insert(0, "prompt", prompts)
    rows.attrs["shared_prompt"] = shared
    rows.attrs["findings"] = pilot_findings.findings(rows, bodies[0]) if bodies else None
    return rows


def report(
    job: Any,
    *,
    lines: list[bytes] | None = None,
    window: str | None = None,
    timeout: float | None = None,
) -> PilotReport:
    """Measured figures of the pilot and the extrapolated cost of the rest (``lines``: the
    rest's request lines if they differ from the submitted ones; ``window``: the rest's)."""
    _pilot_of(job)
    rows = pilot_rows(job, timeout)
    if lines is None:
        lines = rest_lines(job, {})
    measured = figures(job, rows, lines, window or job.spec["window"])
    return PilotReport(measured, rows, answer_columns(rows, job.df))


def figures(job: Any, rows: pd.DataFrame, lines: list[bytes], window: str) -> PilotFigures:
    """The pilot's figures from its joined ``rows``, with the rest (``lines``) on ``window``."""
    pilot = job.spec["pilot"]
    built = job.built
    sizes = np.diff(built.line_offsets) - 1
    index = {cid: i for i, cid in enumerate(built.custom_ids)}
    wanted = set(pilot["ids"])
    pilot_bytes = np.array([sizes[index[c]] for c in built.custom_ids if c in wanted])
    rest_bytes = np.array([len(line) for line in lines], dtype=np.int64)
    return extrapolate(
        rows,
        pilot_bytes,
        rest_bytes,
        model=job.spec["model"],
        window=window,
        pilot_window=pilot["window"],
        static_rest_usd=_static_rest_usd(job, rest_bytes, window),
    )


def _static_rest_usd(job: Any, rest_bytes: np.ndarray, window: str) -> float | None:
    from ..jsonl.requests.estimate import BYTES_PER_TOKEN, OUTPUT_RATIO, _max_output
    from ..prices import price_for

    price = price_for(job.spec["model"], window)
    if price is None:
        return None
    per_in = rest_bytes // BYTES_PER_TOKEN
    per_out = np.floor(per_in * OUTPUT_RATIO)
    cap = _max_output(job.built.params)
    if job.spec["endpoint"] == wire.EMBEDDINGS:
        per_out = per_out * 0
    elif cap is not None:
        per_out = np.minimum(per_out, cap)
    return float(per_in.sum() * price.input + per_out.sum() * price.output) / 1e6


def rest_lines(job: Any, changes: dict[str, Any]) -> list[bytes]:
    """The request lines of every row the pilot did not send, with ``changes`` applied."""
    sent = set(_pilot_of(job)["ids"])
    return _lines(job, changes, lambda cid: cid not in sent)


def lines_for(job: Any, wanted: set[str]) -> list[bytes] | None:
    """The lines a retry sends for ``wanted`` when ``proceed`` changed the request (rows as
    the rest was sent, the pilot's rows too); None when nothing was changed."""
    proceeded = (job.spec.get("pilot") or {}).get("proceeded") or {}
    if not proceeded.get("changed"):
        return None
    changes = job.pilot_changes if job.pilot_changes is not None else proceeded.get("changes")
    if changes is None:
        raise JobError(
            "the rest was sent with changes this kernel no longer knows (a prompt function); "
            "a retry would send the pilot's request. Submit the failed rows as a new job."
        )
    return _lines(job, changes, wanted.__contains__)


def _lines(job: Any, changes: dict[str, Any], keep: Any) -> list[bytes]:
    fixed = sorted(set(changes) & set(FIXED_ARGS))
    if fixed:
        raise JobError(
            f"proceed cannot change {', '.join(fixed)}: the pilot's answers would not "
            "join with the rest's. Submit a new job instead."
        )
    built = job.built
    rebuild = {k: v for k, v in changes.items() if k in REBUILD_ARGS}
    body = {k: v for k, v in changes.items() if k not in REBUILD_ARGS and k != "schema_hint"}
    hint = None
    if changes.get("schema_hint") and built.n:
        hint = pilot_findings.schema_hint(orjson.loads(built.line(0))["body"])
        if hint is None:
            raise JobError("schema_hint=True needs a response_format schema; this job has none")
    if rebuild:
        from ..jsonl.requests import build_requests

        args = job.build_args or job.spec.get("build")
        if not args:
            raise JobError(
                "the build of this job is not known (a prompt function, attached "
                "after a restart); proceed without prompt/system/examples changes"
            )
        built = build_requests(job.df, **{**args, **rebuild})
        if built.custom_ids != job.built.custom_ids:
            raise JobError(
                "the changed prompt sends other rows than the pilot's build "
                "(missing values?); use missing='empty' or submit a new job"
            )
    return [pilot_findings.with_schema_hint(retry.override(built.line(i), body), hint)
            for i, cid in enumerate(built.custom_ids) if keep(cid)]  # fmt: skip


def proceed(
    job: Any,
    *,
    window: str | None,
    budget: float | None,
    changes: dict[str, Any],
    timeout: float | None = None,
    send_unchanged: bool = False,
) -> None:
    """Send the rest (attempt 1) once the pilot has ended: refuses in the call when the
    pilot's measured cost of the whole job is over the budget, or when the pilot's answers
    were cut off or did not parse and ``changes`` do not fix it (unless ``send_unchanged``),
    then uploads and creates on the job's thread, as a submit does
    (``job.wait_submitted()`` waits for the batches)."""
    pilot = _pilot_of(job)
    if job.sending:
        if pilot.get("proceeded"):
            return  # this proceed is still sending: never pay twice
        job.wait_submitted()  # the pilot's own upload first (raises what stopped it)
    window = window or job.spec["window"]
    if window not in wire.COMPLETION_WINDOWS:
        raise ValueError(f"window must be one of {sorted(wire.COMPLETION_WINDOWS)}, not {window!r}")
    sent = [r for r in job._records if r.attempt == REST]
    if pilot.get("proceeded") and sent and all(r.batch_id for r in sent):
        return  # already sent: never pay twice
    lines = rest_lines(job, changes)
    if not lines:
        raise JobError(f"the pilot of job {job.name!r} covered every row; nothing to proceed")
    rows = pilot_rows(job, timeout)  # the rest goes only after the pilot has ended
    found = rows.attrs.get("findings")
    left = pilot_findings.unaddressed(found, changes)
    if left and not send_unchanged:
        raise pilot_findings.refuse_proceed(found, left, len(lines))
    budget = job.spec.get("budget") if budget is None else budget
    if budget is not None:
        measured = figures(job, rows, lines, window)
        if measured.total_usd is not None and measured.total_usd > budget:
            raise BudgetExceededError(
                f"from the pilot's measured tokens the job costs ${measured.total_usd:.4f} "
                f"(the pilot ${measured.pilot_usd or 0:.4f} + the rest ${measured.rest_usd:.4f}), "
                f"over the budget ${budget:.4f}; nothing was sent. " + budget_advice(window),
                measured,
            )
    pilot["proceeded"] = {"window": window, "changed": sorted(changes), "changes": _json(changes),
                          "unchanged": bool(left)}  # fmt: skip
    job.pilot_changes = changes
    job.spec["window"] = window
    job._registry.update_spec(job.id, job.spec)
    job._tracker.expected[REST] = len(lines)  # the whole job counts before the service does
    chunks = retry.pack_for(job.spec, lines)
    del lines
    job.send_in_background(lambda: job.create_batches(chunks, attempt=REST, window=window))


def _json(changes: dict[str, Any]) -> dict[str, Any] | None:
    """``changes`` if they can be stored in the registry (not a prompt function), else None."""
    try:
        return orjson.loads(orjson.dumps(changes))
    except TypeError:
        return None


def label(frame: pd.DataFrame, spec: dict[str, Any]) -> pd.DataFrame:
    """Add ``phase`` (pilot, rest, retry N) to a pilot job's join, and ``earlier_prompt`` (True
    for the pilot's answers) when ``proceed`` changed the request."""
    pilot = spec.get("pilot")
    if not pilot:
        return frame
    names = {PILOT: "pilot", REST: "rest"}
    attempts = frame["attempt"]
    frame["phase"] = pd.Series(
        [None if pd.isna(a) else names.get(int(a), f"retry {int(a) - REST}") for a in attempts],
        index=frame.index,
        dtype="string",
    )
    if (pilot.get("proceeded") or {}).get("changed"):
        frame["earlier_prompt"] = attempts.eq(PILOT).fillna(False).astype(bool)
    return frame
