"""A job's request lines after the upload: released, and rebuilt from its DataFrame when needed.

Once every file of a submit is on the service the job keeps no bytes of it (a million rows of
requests are most of a gigabyte); retry, review, pilot and batch errors that need request lines
rebuild them from the DataFrame with the build arguments, and the fingerprint proves they are
the lines that were sent.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..errors import JobError


def rebuild(
    spec: dict[str, Any], df: pd.DataFrame, build_args: dict[str, Any] | None = None
) -> Any:
    """The requests a job was built from, if ``df`` is the DataFrame it was submitted with
    (``build_args``: the submit's own arguments, else the replayable ones in ``spec``)."""
    from ..jsonl.requests import BuildError, build_requests

    args = build_args or spec.get("build")
    if not args:
        return None
    try:
        built = build_requests(df, **args)
    except (BuildError, ValueError, KeyError, TypeError):
        return None
    return built if built.fingerprint() == spec.get("built_fingerprint") else None


def release(built: Any, spec: dict[str, Any], df: Any, build_args: dict[str, Any] | None) -> None:
    """Drop ``built``'s bytes when they can be rebuilt from ``df``; reading them again rebuilds
    them, or raises ``JobError`` when the DataFrame was changed since the submit."""
    if df is None or not (build_args or spec.get("build")) or not built.holds_bytes:
        return

    def again() -> bytes:
        fresh = rebuild(spec, df, build_args)
        if fresh is None:
            raise JobError(
                "the request lines of this job were released after the upload and the "
                "DataFrame no longer builds them (changed since the submit); keep the frame "
                "unchanged, or dw.attach(name, df) with the frame as it was submitted"
            )
        return fresh.data

    built.release(again)
