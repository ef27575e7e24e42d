"""The change that fixes answers cut off at ``max_tokens`` or not matching the schema, worded
for the pilot's report, a refused ``proceed`` / ``retry`` and the review's advice.

Pure functions of plain numbers and dicts. A pilot's findings (``JobSnapshot.pilot["findings"]``,
made by ``dw_notebook.job.pilot_findings``) are a dict with ``rows`` (pilot rows), ``truncated``
(rows cut off, finish_reason=length), ``cap`` (the max_tokens they were sent with, None: the
model's own limit), ``cut_at`` (the most completion tokens a cut-off answer used),
``longest_complete`` (completion tokens of the longest answer that ended by itself, None: none),
``max_tokens`` (the proposal, None without truncation), ``unparsed`` (rows answered in full whose
answer did not parse against the schema), ``parse_example`` (one of their parse errors) and
``schema_hint`` (the line ``proceed(schema_hint=True)`` adds to the system prompt).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MIN_PROPOSAL = 16
#: the body fields that cap an answer's length, as the services name them
CAP_FIELDS = ("max_completion_tokens", "max_tokens", "max_output_tokens")


def proposed_max_tokens(cut_at: int | None, longest_complete: int | None) -> int:
    """A cap that leaves room: 4x what cut-off answers reached and 2x the longest complete
    answer, rounded up to a power of two (output is paid per token used, not per cap)."""
    need = max(4 * (cut_at or 0), 2 * (longest_complete or 0), MIN_PROPOSAL)
    return 1 << (need - 1).bit_length()


def cap_of(body: Mapping[str, Any]) -> int | None:
    """The answer-length cap a request body (or a dict of changes) sets, None without one."""
    for key in CAP_FIELDS:
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def cap_text(cap: int | None) -> str:
    return f"max_tokens={cap}" if cap is not None else "the model's own length limit"


def finding_lines(f: Mapping[str, Any] | None) -> list[str]:
    """What the pilot showed and the change proposed, as short lines ([] when nothing);
    ``js/lib/pilot.js`` words them the same way."""
    if not f:
        return []
    out = []
    if f.get("truncated"):
        longest = f.get("longest_complete")
        used = (
            f"the longest complete answer used {longest} tokens"
            if longest is not None
            else "no answer ended by itself"
        )
        out.append(
            f"{f['truncated']} of {f['rows']} answers were cut off at {cap_text(f.get('cap'))} "
            f"(finish_reason=length); {used}; proposed max_tokens={f['max_tokens']}"
        )
    if f.get("unparsed"):
        example = f" ({f['parse_example']})" if f.get("parse_example") else ""
        out.append(
            f"{f['unparsed']} of {f['rows']} answers did not parse against the schema{example}; "
            "proposed: add the schema to the system prompt (schema_hint=True)"
        )
    return out


def proceed_call(f: Mapping[str, Any]) -> str:
    """The call that sends the rest with the proposed changes."""
    args = []
    if f.get("truncated"):
        args.append(f"max_tokens={f['max_tokens']}")
    if f.get("unparsed"):
        args.append("schema_hint=True")
    return f"job.proceed({', '.join(args)})"


def needs_choice(f: Mapping[str, Any] | None) -> bool:
    """Whether the pilot found something Proceed must not silently send again."""
    return bool(f) and bool(f.get("truncated") or f.get("unparsed"))  # type: ignore[union-attr]


def retry_advice(cut_off: int, cut_at: int | None, unparsed: int) -> str:
    """The review's advice for rows cut off at ``cut_at`` tokens, or whose answer did not
    parse against the schema (``unparsed`` of them answered in full)."""
    if cut_off:
        return (
            f"cut off at {cut_at} tokens (finish_reason=length): "
            f"job.retry(max_tokens={proposed_max_tokens(cut_at, None)}) gives them room"
        )
    if unparsed:
        return (
            "the answer did not match the schema: job.retry(schema_hint=True) adds the schema "
            "to the system prompt (the same request again gets the same kind of answer)"
        )
    return ""


def rest_sent_text(pilot: Mapping[str, Any]) -> str:
    """What a pilot's proceed sent: 'the rest (840 rows) sent on the 24h window with
    max_tokens=64 and the schema hint' (``pilot["sent"]``: the fix it carried)."""
    text = f"the rest ({pilot.get('rest', 0):,} rows) sent on the {pilot.get('window')} window"
    sent = pilot.get("sent") or {}
    if sent.get("unchanged"):
        return text + " unchanged, as asked (the pilot's findings will repeat)"
    fixes = [f"max_tokens={sent['max_tokens']}"] if sent.get("max_tokens") else []
    fixes += ["the schema hint"] if sent.get("schema_hint") else []
    return text + (f" with {' and '.join(fixes)}" if fixes else "")
