"""Which rows of a DataFrame a job's requests were sent for, when the frame is not the exact one
that was submitted (sorted, filtered, with new columns, or a different frame altogether).

Each row's candidate ids (the id a build of this frame gives it, and the other id it may have
had in a larger frame) are looked up among the custom_ids the job actually sent, read from its
input files. When fewer than most rows match, the frame is not the job's: that is an error with
the count and the fix, instead of a join full of ``not_run`` rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd

from ..errors import JobError, NotFoundError
from ..jsonl.requests import BuildError, make_custom_ids, other_ids
from .batch_errors import input_ids
from .pilot import first_send

FIX = (
    "Fix: pass the DataFrame the job was submitted with (same index, and the columns the "
    "prompt uses; sorting, filtering and new columns are fine), or submit with "
    "id_column='<a column of unique ids>' so rows are matched by that column."
)


def sent_ids(
    records: Iterable[Any],
    spec: Mapping[str, Any],
    get_batch: Callable[[str], dict],
    download: Callable[[str], bytes],
) -> set[str]:
    """Every custom_id the job sent for the first time (not retries), read from input files."""
    sent: set[str] = set()
    for record in records:
        if not first_send(record.attempt, dict(spec)):
            continue
        file_id = record.input_file_id
        if not file_id and record.batch_id:
            try:
                file_id = get_batch(record.batch_id).get("input_file_id")
            except NotFoundError:
                file_id = None
        if file_id:
            sent.update(cid for cid in input_ids(download(file_id)) if cid is not None)
    return sent


def _candidates(df: pd.DataFrame, spec: Mapping[str, Any]) -> tuple[list[list], int]:
    """Candidate id lists (each one id per row) and the number of rows a build would send."""
    lists: list[list] = []
    n_sent = len(df)
    if spec.get("build"):
        from ..jsonl.requests import build_requests

        try:
            built = build_requests(df, **spec["build"], other_ids=True)
        except (BuildError, ValueError, KeyError, TypeError):
            built = None
        if built is not None:
            lists += [built.row_ids, built.other_ids or []]
            n_sent = sum(cid is not None for cid in built.row_ids)
    index_ids = make_custom_ids(df.index)
    return [*lists, index_ids, other_ids(df.index, index_ids)], n_sent


def check_joined(out: pd.DataFrame, name: str) -> None:
    """After joining a frame whose ids could not be checked against the requests (their input
    files are gone): raise when fewer than most rows have a line and lines for other ids exist."""
    unmatched = int(out.attrs.get("dw_unmatched_ids", 0))
    rows = int((out["status"] != "skipped").sum())
    matched = rows - int((out["status"] == "not_run").sum())
    if unmatched and rows and matched * 2 <= rows:
        raise JobError(
            f"Only {matched:,} of the {rows:,} rows of this DataFrame match result lines of job "
            f"{name!r}, and {unmatched:,} result lines match no row. " + FIX
        )


def match_rows(df: pd.DataFrame, spec: Mapping[str, Any], sent: set[str], name: str) -> list:
    """Per row of ``df``, the custom_id it was sent under (None: not in the job).

    Raises ``JobError`` when fewer than most rows match; warns when some do not.
    """
    lists, n_rows = _candidates(df, spec)
    taken: set[str] = set()
    ids: list[str | None] = []
    for i in range(len(df)):
        found = None
        for ids_of in lists:
            cid = ids_of[i] if i < len(ids_of) else None
            if cid is not None and cid in sent and cid not in taken:
                found = cid
                break
        if found is not None:
            taken.add(found)
        ids.append(found)
    matched = len(taken)
    if n_rows and matched * 2 <= n_rows:
        raise JobError(
            f"Only {matched:,} of the {n_rows:,} rows of this DataFrame match the "
            f"{len(sent):,} requests of job {name!r}, so its results cannot be joined onto it. "
            + FIX
        )
    if matched < n_rows:
        warnings.warn(
            f"{n_rows - matched:,} of the {n_rows:,} rows of this DataFrame were not sent by job "
            f"{name!r} (they show as skipped); {matched:,} match.",
            stacklevel=3,
        )
    return ids
