"""A pilot job's part of its snapshot: the ended pilot's answers and figures as plain data.

``read_view`` reads them once the pilot's batches have ended (the poller's refresh calls it);
``view`` tells the state (running, ready for proceed, proceeded) with them. The shape is
described in ``dw_notebook.progress.pilot``, which words it for the text and HTML views.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, replace
from typing import Any

import numpy as np
import pandas as pd

from .. import wire
from ..errors import DwError
from ..progress.fixes import needs_choice, proceed_call
from ..progress.snapshot import JobSnapshot
from . import pilot

log = logging.getLogger(__name__)

ROWS_SHOWN = 50  # rows of a pilot shown in its widget (a pilot of 10 shows all)
TEXT_SHOWN = 1000  # characters of a prompt or answer sent to the widget


def read_view(job: Any) -> None:
    """Once the pilot's batches have ended, read its answers and figures (for every window the
    rest can go on) into ``job.pilot_view``, the plain data the progress views show; a
    report that cannot be read is kept as its reason, and proceed stays possible."""
    if job.pilot_view is not None or not job.spec.get("pilot"):
        return
    ids = [r.batch_id for r in job._records if r.attempt == pilot.PILOT and r.batch_id]
    batches = [job._tracker.batches.get(i) for i in ids]
    if not ids or not all(b and b["status"] in wire.TERMINAL_STATUSES for b in batches):
        return
    try:
        lines = pilot.rest_lines(job, {})
        result = pilot.report(job, lines=lines, timeout=0)
        figures = {
            w: asdict(pilot.figures(job, result.rows, lines, w)) for w in wire.COMPLETION_WINDOWS
        }
        columns = [c for c in result.answer_columns if c != "parse_error"]  # shown as an error
        rows = [_plain_row(row, columns) for _, row in result.rows.head(ROWS_SHOWN).iterrows()]
        attrs = result.rows.attrs
        job.pilot_view = {"figures": figures, "columns": columns, "rows": rows, "error": None,
                          "findings": attrs.get("findings"),
                          "shared_prompt": _text(attrs.get("shared_prompt"))}  # fmt: skip
    except Exception as exc:  # a report that cannot be read must not stop the polling
        if not isinstance(exc, DwError):
            log.exception("dw-notebook: the pilot's report could not be read")
        job.pilot_view = {"figures": {}, "columns": [], "rows": [], "error": str(exc),
                          "findings": None, "shared_prompt": None}  # fmt: skip


def view(job: Any) -> dict[str, Any] | None:
    """A pilot job's part of its snapshot (see ``dw_notebook.progress.pilot``); None without one."""
    plan = job.spec.get("pilot")
    if not plan:
        return None
    proceeded = plan.get("proceeded")
    rest = [r for r in job._records if r.attempt == pilot.REST]
    if proceeded and (job.sending or (rest and all(r.batch_id for r in rest))):
        state = "proceeded"  # the rest is sent, or being sent on the job's thread
    else:  # a proceed that stopped before its batches exist is offered again
        state = "ready" if job.pilot_view is not None else "running"
    rows = max(int(job.spec.get("n_requests") or 0) - int(plan["n"]), 0)
    window = (proceeded or {}).get("window") or job.spec["window"]
    return {"state": state, "n": int(plan["n"]), "rest": rows, "window": window,
            "sent": _sent(proceeded), **(job.pilot_view or {})}  # fmt: skip


def _sent(proceeded: dict[str, Any] | None) -> dict[str, Any] | None:
    """The fix a proceed carried for the pilot's findings (None before the proceed)."""
    if not proceeded:
        return None
    changes = proceeded.get("changes") or {}
    return {
        "max_tokens": changes.get("max_tokens"),
        "schema_hint": bool(changes.get("schema_hint")),
        "unchanged": bool(proceeded.get("unchanged")),
    }


def _plain_row(row: pd.Series, columns: list[str]) -> dict[str, Any]:
    return {
        "prompt": _text(row.get("prompt")),
        "answers": {c: _text(row.get(c)) for c in columns},
        "status": _text(row.get("status")),
        "error": _text(row.get("error")) or _text(row.get("parse_error")),
        "finish_reason": _text(row.get("finish_reason")),
        "prompt_tokens": _count(row.get("prompt_tokens")),
        "completion_tokens": _count(row.get("completion_tokens")),
    }


def _text(value: Any) -> str | None:
    if value is None or (np.ndim(value) == 0 and pd.isna(value)):
        return None
    return str(value)[:TEXT_SHOWN]


def _count(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def with_fix_hint(snapshot: JobSnapshot) -> JobSnapshot:
    """A snapshot whose pilot waits for proceed with findings: its hint names the call with
    the fix (``job.proceed(max_tokens=64)``), not the plain ``job.proceed()`` that would refuse."""
    view = snapshot.pilot or {}
    found = view.get("findings")
    hint = snapshot.extra.get("hint")
    if view.get("state") != "ready" or not needs_choice(found) or not hint:
        return snapshot
    fixed = hint.replace("job.proceed() sends", f"{proceed_call(found)} sends")
    fixed += " with the fix the pilot calls for (job.proceed(send_unchanged=True): as they are)"
    return replace(snapshot, extra={**snapshot.extra, "hint": fixed})
