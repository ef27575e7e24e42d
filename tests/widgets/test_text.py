"""Text renderings of a snapshot: the progress line, the end summary and static HTML."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dw_notebook.progress.snapshot import (
    AttemptSnapshot,
    BatchSnapshot,
    JobSnapshot,
    SendingSnapshot,
)
from dw_notebook.progress.text import (
    attempt_label,
    format_bar,
    format_bytes,
    format_cost,
    format_counts,
    format_duration,
    format_errors,
    format_line_counts,
    format_progress,
    format_rate,
    format_row_counts,
    format_summary,
    phase_label,
    send_failure,
    sending_text,
    stats,
)
from dw_notebook.widgets.static import snapshot_html

# the same cases are checked against the widget's JS formatter (js/format.test.js)
CASES = json.loads((Path(__file__).parent / "format_cases.json").read_text())


@pytest.mark.parametrize(("pilot", "text"), CASES["rest_sent"])
def test_what_a_proceed_sent_reads_as_in_the_widget(pilot, text):
    from dw_notebook.progress.fixes import rest_sent_text

    assert rest_sent_text(pilot) == text


@pytest.mark.parametrize(("value", "text"), CASES["duration"])
def test_durations_match_the_widget(value, text):
    assert format_duration(value) == text


@pytest.mark.parametrize(("value", "text"), CASES["cost"])
def test_costs_match_the_widget(value, text):
    assert format_cost(value) == text


@pytest.mark.parametrize(("value", "text"), CASES["rate"])
def test_rates_match_the_widget(value, text):
    assert format_rate(value) == text


@pytest.mark.parametrize(("args", "text"), CASES["counts"])
def test_counts_match_the_widget(args, text):
    assert format_counts(*args) == text


@pytest.mark.parametrize(("extra", "text"), CASES["line_counts"])
def test_line_counts_match_the_widget(extra, text):
    assert format_line_counts(extra) == text


@pytest.mark.parametrize(("value", "text"), CASES["bytes"])
def test_bytes_match_the_widget(value, text):
    assert format_bytes(value) == text


@pytest.mark.parametrize(("sending", "text", "failure"), CASES["sending"])
def test_the_steps_before_the_batches_read_as_in_the_widget(sending, text, failure):
    assert sending_text(SendingSnapshot(**sending)) == text
    assert send_failure(SendingSnapshot(**sending)) == failure


def test_progress_line_and_static_html_show_the_upload_before_the_batch_exists():
    sending = SendingSnapshot("uploading", rows=3, files_done=0, files_total=1, bytes_done=60,
                              bytes_total=120)  # fmt: skip
    snap = JobSnapshot("reviews", "uploading", total=3, sending=sending)
    assert format_progress(snap).startswith("uploading |██████████          |  50% 0 / 1 files")
    assert "0 / 1 files uploaded · 60 B / 120 B" in snapshot_html(snap)
    failed = JobSnapshot("reviews", "failed", total=3, done=True,
                         sending=replace(sending, error="TransportError: boom"))  # fmt: skip
    assert format_summary(failed) == (
        "reviews failed while uploading (0 / 1 files uploaded · 60 B / 120 B): TransportError: boom"
    )
    assert "failed while uploading" in snapshot_html(failed)


def test_an_upload_whose_bytes_are_sent_is_not_done_until_the_service_accepts_the_file():
    sending = SendingSnapshot("uploading", rows=300, files_done=0, files_total=1,
                              bytes_done=67_400, bytes_total=67_400)  # fmt: skip
    line = format_progress(JobSnapshot("demo", "uploading", total=300, sending=sending))
    assert " 99% 0 / 1 files uploaded · 67.4 kB sent, the service is checking 1 file" in line
    accepted = replace(sending, files_done=1)
    line = format_progress(JobSnapshot("demo", "uploading", total=300, sending=accepted))
    assert "100% 1 / 1 files uploaded · 67.4 kB / 67.4 kB" in line


@pytest.mark.parametrize(("extra", "text"), CASES["errors"])
def test_batch_errors_match_the_widget(extra, text):
    assert format_errors(extra) == text


@pytest.mark.parametrize(("rows", "text"), CASES["row_counts"])
def test_row_counts_match_the_widget(rows, text):
    assert format_row_counts(rows) == text


@pytest.mark.parametrize(("fields", "text"), CASES["stats"])
def test_no_rate_or_eta_before_the_first_row_ends_as_in_the_widget(fields, text):
    sending = fields.get("sending")
    snap = JobSnapshot(
        "j", **{**fields, "sending": SendingSnapshot(**sending) if sending else None}
    )
    assert " · ".join(stats(snap)) == text


def test_static_html_shows_the_batch_errors_escaped():
    snap = JobSnapshot("j", "failed", total=2, done=True, extra={
        "errors": [{"code": "model_not_found", "message": "<b>no</b> $5", "line": 1}],
        "unreadable_lines": 1,
    })  # fmt: skip
    html = snapshot_html(snap)
    assert "model_not_found: &lt;b&gt;no&lt;/b&gt; &#36;5 (line 1)" in html
    assert "1 answer unreadable" in html and "<b>" not in html


@pytest.mark.parametrize(("phase", "text"), CASES["phase"])
def test_phase_labels_match_the_widget(phase, text):
    assert phase_label(phase) == text


def test_unknown_numbers_read_as_blank():
    assert format_duration(float("nan")) == "" and format_cost(float("inf")) == ""
    assert format_rate(None) == ""


def test_counts_put_completed_first_and_failed_only_when_nonzero():
    assert format_counts(37, 2, 300) == "37 / 300 done, 2 failed"
    assert format_counts(37, 0, 300) == "37 / 300 done"
    assert format_counts(1234, 0, 0) == "1,234 done"


def test_bar_is_clamped_and_has_fixed_width():
    assert format_bar(0.0) == "|" + " " * 20 + "|"
    assert format_bar(1.0) == "|" + "█" * 20 + "|"
    assert format_bar(0.5) == "|" + "█" * 10 + " " * 10 + "|"
    assert len(format_bar(0.137)) == 22
    assert format_bar(None) == "|" + "·" * 20 + "|"


def test_progress_line_shows_counts_rates_times_and_cost():
    line = format_progress(
        JobSnapshot(
            "reviews",
            "in_progress",
            total=300,
            completed=37,
            failed=2,
            throughput=12.34,
            elapsed_s=62,
            eta_s=20,
            window_left_s=86340,
            estimated_cost=0.12,
        )
    )
    assert line.startswith("in progress |██▋")
    assert " 13% 37 / 300 done, 2 failed" in line
    assert line.endswith(" · 12.3 req/s · elapsed 1m 02s · ETA 20s · cost: estimated $0.12")
    assert "\n" not in line


def test_progress_line_survives_counts_beyond_total_and_unknown_total():
    over = format_progress(JobSnapshot("x", "in_progress", total=10, completed=12, failed=3))
    assert "100%" in over and "12 / 10 done, 3 failed" in over
    unknown = format_progress(JobSnapshot("x", "validating"))
    assert unknown.startswith("validating |····") and "   ? 0 done" in unknown


def test_progress_line_says_it_is_reconnecting_while_polls_fail():
    line = format_progress(
        JobSnapshot("x", "in_progress", total=10, poll_error="timeout", last_update_age_s=40.2)
    )
    assert line.endswith("reconnecting, last update 40 s ago")


def test_summary_counts_rows_that_never_ran_and_gives_the_hint():
    text = format_summary(
        JobSnapshot(
            "reviews",
            "expired",
            total=300,
            completed=250,
            failed=10,
            done=True,
            elapsed_s=86400,
            actual_cost=0.5,
            message="answers are simulated",
            extra={"hint": "out = job.join()"},
        )
    )
    assert text == (
        "reviews expired: 250 / 300 done, 10 failed, 40 not run in 1d 00h "
        "(cost: actual $0.50). out = job.join() [answers are simulated]"
    )


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data):
        self.text.append(data)


def test_static_html_escapes_every_field_from_the_job():
    evil = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    html = snapshot_html(
        JobSnapshot(
            evil,
            "completed",
            total=2,
            completed=1,
            failed=1,
            done=True,
            model=evil,
            message=evil,
            extra={"hint": evil},
            batches=(BatchSnapshot(evil, evil, 1, 1, 0), BatchSnapshot("b", "failed", 1, 0, 1)),
        )
    )
    parsed = _Collect()
    parsed.feed(html)
    assert "img" not in parsed.tags and "script" not in parsed.tags
    assert not [name for name, _ in parsed.attrs if name.startswith("on")]
    assert "".join(parsed.text).count(evil) == 6  # name, model, message, hint, batch id and status


def test_static_html_says_how_many_rows_never_ran():
    html = snapshot_html(
        JobSnapshot("x", "cancelled", total=300, completed=7, done=True, elapsed_s=2)
    )
    assert "cancelled: 7 / 300 done, 293 not run in 2s" in html  # the summary, as in the widget


def test_static_html_shows_the_outcome_with_stable_test_ids():
    html = snapshot_html(
        JobSnapshot("reviews", "completed", total=300, completed=296, failed=4, done=True)
    )
    assert re.search(r'data-testid="dw-counts"[^>]*>296 / 300 done, 4 failed<', html)
    assert re.search(r'data-testid="dw-phase"[^>]*>completed<', html)
    widths = [float(w) for w in re.findall(r"width:([\d.]+)%", html)]
    assert widths == pytest.approx([100 * 296 / 300, 100 * 4 / 300], abs=0.01)


class _Untrusted(HTMLParser):
    """What an untrusted notebook keeps of each element's style (its sanitizer drops var()
    values) and whether the element holds text."""

    VOID = {"br", "img", "hr", "input"}

    def __init__(self):
        super().__init__()
        self.elements: list[dict] = []
        self.open: list[dict] = []

    def handle_starttag(self, tag, attrs):
        style = dict(attrs).get("style") or ""
        kept = {}
        for decl in style.split(";"):
            prop, _, value = decl.partition(":")
            if value and "var(" not in value:
                kept.setdefault(prop.strip(), value.strip())
        element = {"tag": tag, "style": kept, "text": False}
        self.elements.append(element)
        if tag not in self.VOID:
            self.open.append(element)

    def handle_endtag(self, tag):
        if self.open:
            self.open.pop()

    def handle_data(self, data):
        if data.strip():
            for element in self.open:
                element["text"] = True


def _contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two #rrggbb colours."""

    def luminance(hex_colour: str) -> float:
        rgb = [int(hex_colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
        lin = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


LIGHT_PAGE, DARK_PAGE = "#ffffff", "#111111"  # JupyterLab's light and dark layout-color0


def test_untrusted_static_cards_read_on_light_and_dark_pages():
    from dw_notebook.widgets.autobatch import autobatch_html
    from dw_notebook.widgets.record import builder_record

    html = "".join(
        [
            snapshot_html(JobSnapshot("r", phase, total=300, completed=120, failed=3, model="m"))
            for phase in ("in_progress", "completed", "failed", "cancelled", "validating")
        ]
        + [
            builder_record({"template": "{review}", "model": "m", "window": "24h"}, 3, "x").html,
            autobatch_html({"queued": 2, "name": "n", "window": "24h", "last_error": "boom"}),
        ]
    )
    parsed = _Untrusted()
    parsed.feed(html)
    opaque = re.compile(r"^#[0-9a-fA-F]{6}$")
    checked = 0
    for element in parsed.elements:
        style = element["style"]
        colour, background = style.get("color", ""), style.get("background", "")
        if opaque.match(background) and element["text"]:
            # text on a fixed background (the phase pill) has a fixed colour that reads on it
            assert opaque.match(colour) and _contrast(colour, background) >= 3, element
            checked += 1
        elif opaque.match(colour):
            # any other fixed text colour lands on the page: it must read on light and dark
            assert min(_contrast(colour, LIGHT_PAGE), _contrast(colour, DARK_PAGE)) >= 3, element
            checked += 1
        elif background:
            # backgrounds under the theme's text (tracks, code) are a translucent grey
            assert not element["text"] or background.startswith("rgba(128,128,128"), element
    assert checked >= 5
    tracks = [e for e in parsed.elements if e["style"].get("height") == "10px"]
    assert tracks and all("rgba(128,128,128" in e["style"]["background"] for e in tracks)


def test_the_static_card_of_a_running_job_says_when_it_was_true():
    from datetime import UTC, datetime

    when = datetime(2026, 12, 1, 14, 5, 9, tzinfo=UTC)
    running = snapshot_html(JobSnapshot("r", "in_progress", total=10, completed=3), now=when)
    assert re.search(r'data-testid="dw-as-of"[^>]*>as of 2026-12-01 14:05:09 UTC<', running)
    done = snapshot_html(JobSnapshot("r", "completed", total=10, completed=10, done=True))
    assert "dw-as-of" not in done  # the end state stays true


def test_a_pilot_waiting_for_proceed_is_not_called_completed():
    ready = {"state": "ready", "n": 10, "rest": 990, "window": "24h"}
    snap = JobSnapshot("j", "completed", total=10, completed=10, done=True, pilot=ready)
    assert format_progress(snap).startswith("pilot done ")
    assert format_summary(snap).startswith("j pilot done: 10 / 10 done")
    assert ">pilot done</span>" in snapshot_html(snap)
    proceeded = JobSnapshot("j", "completed", total=1000, completed=1000, done=True,
                            pilot={**ready, "state": "proceeded"})  # fmt: skip
    assert ">completed</span>" in snapshot_html(proceeded)


@pytest.mark.parametrize(("attempt", "first", "label"), CASES["attempt"])
def test_attempts_are_named_as_in_the_widgets(attempt, first, label):
    assert attempt_label(attempt, first) == label


def test_a_retry_recovers_rows_only_once_the_join_knows_they_parse():
    attempts = (AttemptSnapshot(0, "completed", 40, 31, 9, True),
                AttemptSnapshot(1, "completed", 9, 9, 0, True))  # fmt: skip
    snap = JobSnapshot("j", "completed", total=40, completed=40, done=True, recovered=9,
                       attempts=attempts)  # fmt: skip
    assert "9 answered on retry 1" in format_progress(snap)  # the service's count of answers
    rows = {"rows": 40, "answered": 40, "parsed": 37, "failed": 0, "missing": 0, "recovered": 6}
    joined = replace(snap, rows=rows, recovered=6)
    assert "40 rows: 40 answered (37 parsed, 3 unparsed)" in format_progress(joined)
    assert "6 recovered on retry 1" in format_summary(joined)
