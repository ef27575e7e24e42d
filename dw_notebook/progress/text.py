"""Text renderings of a job snapshot: one progress line and an end summary.

Pure functions of a :class:`~dw_notebook.progress.snapshot.JobSnapshot` (tqdm's
``format_meter`` idea), shared by the terminal fallback, reprs and the widgets' static HTML.
Wording and number formats match the widget (``js/lib/format.js``).

>>> from dw_notebook.progress.snapshot import JobSnapshot
>>> format_progress(JobSnapshot("reviews", "in_progress", total=300, completed=37, failed=2))
'in progress |██▋                 |  13% 37 / 300 done, 2 failed'
"""

from __future__ import annotations

import math

from .pilot import PILOT_DONE, format_pilot, waiting
from .snapshot import JobSnapshot, SendingSnapshot, first_retry
from .snapshot import attempt_label as attempt_label  # worded with the rest, kept here too

PHASE_LABELS = {
    "building": "building",
    "uploading": "uploading",
    "creating": "creating batches",
    "submitting": "submitting",
    "validating": "validating",
    "in_progress": "in progress",
    "finalizing": "finalizing",
    "completed": "completed",
    "failed": "failed",
    "expired": "expired",
    "cancelling": "cancelling",
    "cancelled": "cancelled",
    "unknown": "checking status",
}
WINDOW_NOTE_S = 3600  # "left in window" shows only when less than this is left, or ETA is later
TERMINAL_PHASES = frozenset({"completed", "failed", "expired", "cancelled"})
#: what a job whose rows have not started to end waits for, by phase
WAITING_PHASES = {
    "submitting": "waiting for the service to accept the batches",
    "validating": "waiting for the service to start",
    "in_progress": "waiting for the first answers",
}
BAR_WIDTH = 20
_EIGHTHS = " ▏▎▍▌▋▊▉"


def phase_label(phase: str) -> str:
    """Human label of a phase: 'in_progress' -> 'in progress'."""
    if not phase:
        return "waiting"
    return PHASE_LABELS.get(phase, phase.replace("_", " "))


def badge_label(snap: JobSnapshot) -> str:
    """The phase a card shows; a pilot whose rest waits for ``proceed`` has not completed."""
    return PILOT_DONE if waiting(snap.pilot) else phase_label(snap.phase)


def format_count(n: int | float | None) -> str:
    """'1,234'; missing counts read as 0."""
    if n is None or not math.isfinite(n):
        return "0"
    return f"{round(n):,}"


def format_duration(seconds: float | None) -> str:
    """'45s', '3m 07s', '2h 05m', '3d 04h'; '' when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m {s:02d}s"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h {m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d {h:02d}h"


def format_cost(value: float | None) -> str:
    """'$0.0042', '$1.25', '$1,234'; '' when unknown."""
    if value is None or not math.isfinite(value):
        return ""
    if value == 0:
        return "$0.00"
    if abs(value) < 0.01:
        return f"${value:.4f}"
    if abs(value) < 1000:
        return f"${value:.2f}"
    return f"${round(value):,}"


def format_rate(rate: float | None) -> str:
    """'12.3 req/s'; '' when unknown."""
    if rate is None or not math.isfinite(rate):
        return ""
    if rate >= 100:
        return f"{round(rate)} req/s"
    if rate >= 1:
        return f"{rate:.1f} req/s"
    return f"{rate:.2f} req/s"


def format_bytes(n: int | float | None) -> str:
    """'950 B', '12.3 MB' (powers of 1000); '0 B' when unknown."""
    if n is None or not math.isfinite(n) or n < 1000:
        return f"{round(n) if n is not None and math.isfinite(n) else 0} B"
    for unit in ("kB", "MB", "GB"):
        n /= 1000
        if n < 1000 or unit == "GB":
            break
    return f"{n:.1f} {unit}"


def sending_text(s: SendingSnapshot | None) -> str:
    """What the submit's steps before the batches have done: '2 / 17 files uploaded · 84.0 MB /
    713.0 MB · 41.2 MB/s'; '' once the batches exist."""
    if s is None:
        return ""
    if s.phase == "building":
        return f"building {format_count(s.rows)} requests"
    if s.phase == "creating":
        return f"{format_count(s.batches_done)} / {format_count(s.batches_total)} batches created"
    text = f"{format_count(s.files_done)} / {format_count(s.files_total)} files uploaded · "
    checking = s.files_total - s.files_done
    # what is left to send does not show at this precision: read as sent, not as "x / x"
    sent = s.bytes_done >= s.bytes_total or format_bytes(s.bytes_done) == format_bytes(
        s.bytes_total
    )
    if s.bytes_total > 0 and sent and checking > 0:
        # every byte is sent, but a file counts as uploaded only once the service accepts it
        files = "file" if checking == 1 else "files"
        text += f"{format_bytes(s.bytes_total)} sent, the service is checking {checking:,} {files}"
    else:
        text += f"{format_bytes(s.bytes_done)} / {format_bytes(s.bytes_total)}"
    if s.rate:
        text += f" · {format_bytes(s.rate)}/s"
    if s.batches_done:
        text += (
            f" · {format_count(s.batches_done)} / {format_count(s.batches_total)} batches created"
        )
    return text


def _sending_fraction(snap: JobSnapshot) -> float | None:
    s = snap.sending
    if s is None or s.phase != "uploading" or s.bytes_total <= 0:
        return None
    fraction = min(1.0, max(0.0, s.bytes_done / s.bytes_total))
    # never 100% while a file still waits for the service's answer
    return min(fraction, 0.99) if s.files_done < s.files_total else fraction


def format_counts(completed: int, failed: int, total: int) -> str:
    """'37 / 300 done, 2 failed': completed first, failed only when there are some."""
    done = (
        f"{format_count(completed)} / {format_count(total)} done"
        if total > 0
        else f"{format_count(completed)} done"
    )
    return f"{done}, {format_count(failed)} failed" if failed > 0 else done


_FAILED_KINDS = (
    ("failed", "errors"), ("expired", "expired"), ("cancelled", "cancelled"),
    ("unreadable", "unreadable"),
)  # fmt: skip


def format_row_counts(rows: dict) -> str:
    """The rows of a join by outcome (``RowCounts.to_dict()``): '850 rows: 822 answered (238
    parsed, 584 unparsed), 607 cut off at max_tokens · 28 failed (20 errors, 8 expired) · 0
    missing'. Every view of a job's results prints its counts with this."""
    answered, parsed = int(rows.get("answered") or 0), int(rows.get("parsed") or 0)
    text = f"{format_count(answered)} answered"
    if answered > parsed:
        text += f" ({format_count(parsed)} parsed, {format_count(answered - parsed)} unparsed)"
    if truncated := int(rows.get("truncated") or 0):
        text += f", {format_count(truncated)} cut off at max_tokens"
    failed = f"{format_count(rows.get('failed'))} failed"
    by = rows.get("failed_by") if isinstance(rows.get("failed_by"), dict) else {}
    if any(k != "failed" for k in by):
        kinds = [
            f"{format_count(by[k])} {word[:-1] if k == 'failed' and by[k] == 1 else word}"
            for k, word in _FAILED_KINDS
            if by.get(k)
        ]
        failed += f" ({', '.join(kinds)})"
    parts = [text, failed, f"{format_count(rows.get('missing'))} missing"]
    if skipped := int(rows.get("skipped") or 0):
        parts.append(f"{format_count(skipped)} skipped")
    return f"{format_count(rows.get('rows'))} rows: " + " · ".join(parts)


def counts_text(snap: JobSnapshot) -> str:
    """What a card's counts say: the rows of the last join once the job has ended and been
    joined ('850 rows: 822 answered ...'), else the service's '37 / 300 done, 2 failed'."""
    if snap.done and snap.rows:
        return format_row_counts(snap.rows)
    return format_counts(snap.completed, snap.failed, snap.total)


def format_tokens(n: int | None) -> str:
    """'950', '12.3k', '4.5M'; '' when unknown."""
    if n is None:
        return ""
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def tokens_text(snap: JobSnapshot) -> str:
    """'tokens: 12.3k in / 4.5k out'; '' when the service reports none."""
    if snap.input_tokens is None and snap.output_tokens is None:
        return ""
    if not snap.input_tokens and not snap.output_tokens:
        return ""
    return (
        f"tokens: {format_tokens(snap.input_tokens) or '?'} in / "
        f"{format_tokens(snap.output_tokens) or '?'} out"
    )


def queue_text(snap: JobSnapshot) -> str:
    """'250 running, 11 queued' for rows of the latest attempt not ended yet; ''."""
    parts = []
    if snap.running > 0:
        parts.append(f"{format_count(snap.running)} running")
    if snap.queued > 0:
        parts.append(f"{format_count(snap.queued)} queued")
    return ", ".join(parts)


def recovered_text(snap: JobSnapshot) -> str:
    """'56 recovered on retry 1' (or 'on retries 1–2'): rows the retries gave a parsed answer,
    known once the ended job is joined; before, '56 answered on retry 1' (the service's count
    of answers, some of which may not parse). '' for a job never retried."""
    first = first_retry(snap)
    if len(snap.attempts) <= first:
        return ""
    last = snap.attempts[-1].attempt - first + 1
    which = "retry 1" if last == 1 else f"retries 1–{last}"
    word = "recovered" if snap.done and snap.rows else "answered"
    return f"{format_count(snap.recovered)} {word} on {which}"


def _fraction(snap: JobSnapshot) -> float | None:
    if snap.total <= 0:
        return None
    return min(1.0, max(0.0, (max(0, snap.completed) + max(0, snap.failed)) / snap.total))


def format_bar(fraction: float | None, width: int = BAR_WIDTH) -> str:
    """A text bar with eighth-block resolution: '|██▋      |'."""
    if fraction is None:
        return "|" + "·" * width + "|"
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    body = "█" * full + (_EIGHTHS[part] if part and full < width else "")
    return "|" + body.ljust(width) + "|"


def stats(snap: JobSnapshot) -> list[str]:
    """Rate, elapsed time, ETA and window left. No rate or ETA before the first row has ended
    (nor while the submit sends): nothing is measured then, so the card says what it waits for."""
    running = not snap.done and snap.sending is None
    started = snap.completed + snap.failed > 0
    parts = []
    if running and started and (rate := format_rate(snap.throughput)):
        parts.append(rate)
    if running and not started and snap.total > 0 and snap.phase in WAITING_PHASES:
        parts.append(WAITING_PHASES[snap.phase])
    if elapsed := format_duration(snap.elapsed_s):
        parts.append(f"elapsed {elapsed}")
    if running:
        if started and (eta := format_duration(snap.eta_s)):
            parts.append(f"ETA {eta}")
        left = snap.window_left_s
        late = started and snap.eta_s is not None and left is not None and snap.eta_s > left
        if left is not None and (left < WINDOW_NOTE_S or late):
            parts.append(f"{format_duration(left)} left in window")
    return parts


def costs(snap: JobSnapshot) -> str:
    """'cost: estimated $0.12, actual $0.10'; 'cost: n/a (simulated)' without a price."""
    parts = []
    if est := format_cost(snap.estimated_cost):
        parts.append(f"estimated {est}")
    if actual := format_cost(snap.actual_cost):
        parts.append(f"actual {actual}")
    if not parts:
        return f"cost: {snap.cost_note}" if snap.cost_note else ""
    return f"cost: {', '.join(parts)}"


def reconnect_note(snap: JobSnapshot) -> str:
    """'reconnecting, last update 40 s ago' while polls fail; '' otherwise."""
    if not snap.poll_error or snap.done:
        return ""
    age = snap.last_update_age_s
    age_text = f"{round(age)} s ago" if age is not None and math.isfinite(age) else "unknown"
    return f"reconnecting, last update {age_text}"


def format_progress(snap: JobSnapshot) -> str:
    """One line: phase, bar, percent, counts, then throughput, times, cost, reconnect note."""
    if snap.sending is not None and snap.sending.error:
        return send_failure(snap.sending)
    if snap.sending is not None:  # before the batches exist
        fraction = _sending_fraction(snap)
        pct = f"{math.floor(fraction * 100):3d}%" if fraction is not None else "   ?"
        line = (
            f"{phase_label(snap.phase)} {format_bar(fraction)} {pct} {sending_text(snap.sending)}"
        )
        elapsed = format_duration(snap.elapsed_s)
        parts = [line, f"elapsed {elapsed}"] if elapsed else [line]
        return " · ".join(parts + ([snap.busy] if snap.busy else []))
    fraction = _fraction(snap)
    pct = f"{math.floor(fraction * 100):3d}%" if fraction is not None else "   ?"
    line = f"{badge_label(snap)} {format_bar(fraction)} {pct} "
    line += counts_text(snap)
    extras = [t for t in (recovered_text(snap), queue_text(snap)) if t] + stats(snap)
    if tokens := tokens_text(snap):
        extras.append(tokens)
    if cost := costs(snap):
        extras.append(cost)
    if snap.busy:
        extras.append(snap.busy)
    elif note := reconnect_note(snap):
        extras.append(note)
    return " · ".join([line, *extras])


def outcome_text(snap: JobSnapshot, *, recovered: bool = False) -> str:
    """'completed: 296 / 300 done, 2 failed, 2 not run in 1m 02s' (with ``recovered``, what
    the retries recovered before the time)."""
    text = f"{badge_label(snap)}: {counts_text(snap)}"
    not_run = snap.total - snap.completed - snap.failed
    if snap.total > 0 and not_run > 0 and not (snap.done and snap.rows):  # rows say "missing"
        text += f", {format_count(not_run)} not run"
    if recovered and (rows := recovered_text(snap)):
        text += f" ({rows})"
    if elapsed := format_duration(snap.elapsed_s):
        text += f" in {elapsed}"
    return text


def format_summary(snap: JobSnapshot) -> str:
    """The end line: '<name> completed: 296 / 300 done, 2 failed, 2 not run in 1m 02s'."""
    if snap.sending is not None and snap.sending.error:
        return f"{snap.name} {send_failure(snap.sending)}".strip()
    text = outcome_text(snap, recovered=True)
    if tokens := tokens_text(snap):
        text += f"; {tokens}"
    if cost := costs(snap):
        text += f" ({cost})"
    if snap.name:
        text = f"{snap.name} {text}"
    extra = snap.extra if isinstance(snap.extra, dict) else {}
    if lines := format_line_counts(extra):
        text += f" ({lines})"
    if errors := format_errors(extra):
        text += f". {errors}"
    hint = extra.get("hint")
    if isinstance(hint, str) and hint:
        text += f". {hint}"
    if snap.message:
        text += f" [{snap.message}]"
    if waiting(snap.pilot):  # the report of a pilot whose rest waits for proceed
        text += "\n" + format_pilot(snap.pilot)
    return text


def send_failure(s: SendingSnapshot | None) -> str:
    """'failed while uploading (3 / 17 files uploaded ...): <error>' for a submit whose steps
    stopped before its batches existed; ''."""
    if s is None or not s.error:
        return ""
    done = f" ({sending_text(s)})" if s.phase != "building" else ""
    return f"failed while {phase_label(s.phase)}{done}: {s.error}"


def format_line_counts(extra: dict) -> str:
    """'2 answers unreadable, 1 line salvaged' from a snapshot's extra; '' when none."""
    parts = []
    if n := extra.get("unreadable_lines"):
        parts.append(f"{format_count(n)} answer{'s' if n != 1 else ''} unreadable")
    if n := extra.get("salvaged_lines"):
        parts.append(f"{format_count(n)} line{'s' if n != 1 else ''} salvaged")
    return ", ".join(parts)


def format_errors(extra: dict) -> str:
    """'Errors: model_not_found: The model ... (line 1, body.model); 1 more' ('' when none)."""
    errors = extra.get("errors")
    if not isinstance(errors, list) or not errors:
        return ""
    shown = []
    for error in errors:
        if not isinstance(error, dict):
            continue
        code, message = error.get("code"), error.get("message") or ""
        text = f"{code}: {message}" if code and message else str(message or code or "error")
        where = [f"line {error['line']}"] if error.get("line") is not None else []
        where += [str(error["param"])] if error.get("param") else []
        shown.append(text + (f" ({', '.join(where)})" if where else ""))
    more = int(extra.get("error_count") or len(errors)) - len(shown)
    return "Errors: " + "; ".join(shown) + (f"; {format_count(more)} more" if more > 0 else "")
