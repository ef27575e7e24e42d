"""Text progress for terminals: throttled lines, then a summary."""

from __future__ import annotations

import io

from dw_notebook.progress.snapshot import JobSnapshot
from dw_notebook.progress.terminal import RowsProgress, TextProgress, in_kernel


def _snap(done: int, finished: bool = False) -> JobSnapshot:
    phase = "completed" if finished else "in_progress"
    return JobSnapshot("run", phase, total=10, completed=done, done=finished)


def test_lines_are_throttled_and_the_summary_always_printed():
    out = io.StringIO()
    progress = TextProgress(out, min_interval=3600)
    for i in range(10):
        progress.show(_snap(i))
    progress.close(_snap(10, finished=True))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # the first update, then the summary
    assert "0 / 10" in lines[0] and "10 / 10" in lines[1] and "run" in lines[1]


def test_every_update_shows_when_not_throttled():
    out = io.StringIO()
    progress = TextProgress(out, min_interval=0)
    for i in range(3):
        progress.show(_snap(i))
    assert len(out.getvalue().splitlines()) == 3


def test_a_plain_python_process_is_not_a_kernel():
    assert in_kernel() is False


def test_the_first_update_shows_whatever_the_clock_origin(monkeypatch):
    # time.monotonic() counts from an unspecified origin (boot, on Linux): a machine up for
    # five seconds must still print the first update
    clock = iter([5.0, 5.1, 5.2, 16.0])
    monkeypatch.setattr("dw_notebook.progress.terminal.time.monotonic", lambda: next(clock))
    out = io.StringIO()
    progress = TextProgress(out, min_interval=10.0)
    for i in range(4):
        progress.show(_snap(i))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # at 5.0 (the first), then at 16.0
    assert "0 / 10" in lines[0] and "3 / 10" in lines[1]


def test_rows_read_before_a_job_exists_are_shown_throttled_then_summed_up():
    out = io.StringIO()
    rows = RowsProgress("reading rows", after=0, stream=out)
    rows.update(100_000, 500_000)
    rows.update(200_000, 500_000)  # within the pipe interval: not written
    rows.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("reading rows: 100,000 / 500,000 · ")
    assert lines[1].startswith("read 200,000 rows in ")

    quiet = io.StringIO()
    rows = RowsProgress("reading rows", after=3600, stream=quiet)
    rows.update(10, None)
    rows.close()
    assert quiet.getvalue() == ""  # a quick read shows nothing
