"""Text progress outside a notebook: a line at most every 10 s when written to a pipe or file,
the summary always; Ctrl-C answered N leaves with the attach hint and no traceback."""

from __future__ import annotations

import io
import os
import pty
import signal
import subprocess
import sys
import time

from dw_notebook.progress.snapshot import JobSnapshot
from dw_notebook.progress.terminal import PIPE_INTERVAL, TextProgress


def _snap(i: int, done: bool = False) -> JobSnapshot:
    return JobSnapshot("run", "completed" if done else "in_progress", total=50, completed=i,
                       done=done)  # fmt: skip


def test_a_pipe_gets_a_line_at_most_every_ten_seconds_and_the_summary():
    out = io.StringIO()  # not a TTY
    progress = TextProgress(out)
    assert progress.min_interval == PIPE_INTERVAL == 10.0
    for i in range(50):
        progress.show(_snap(i))
    progress.close(_snap(50, done=True))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2, lines  # the first update, then the summary
    assert "0 / 50" in lines[0] and "50 / 50" in lines[1]


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_line_is_redrawn_in_place_more_often():
    assert TextProgress(Tty()).min_interval == 0.5


SCRIPT = """
import dw_notebook as dw
from dw_notebook.datasets import sample_reviews
dw.local(rate=20.0)
job = dw.submit(sample_reviews(300), prompt="Sentiment: {review}", model="mock", name="long-run")
print("SUBMITTED", job.wait_submitted().batch_ids[0], flush=True)
job.wait()
"""


def test_ctrl_c_answered_no_exits_cleanly_with_the_attach_hint(isolated_home):
    main, secondary = pty.openpty()  # stdin is a terminal: the script asks whether to cancel
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        stdin=secondary,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(secondary)
    try:
        line = proc.stdout.readline()
        assert line.startswith("SUBMITTED"), proc.stderr.read()
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        os.write(main, b"n\n")
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        os.close(main)
    assert proc.returncode == 130
    assert "dw.attach('long-run'" in stderr and "Cancel the batches now?" in stdout + stderr
    assert "Traceback" not in stderr, stderr
    progress_lines = [s for s in stderr.splitlines() if "/ 300" in s]
    assert len(progress_lines) <= 1, progress_lines  # stderr is a pipe: no line every 0.5 s
