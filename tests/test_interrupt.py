"""Ctrl-C while waiting stops the wait, not the batch, and says how to get it back."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from dw_notebook.job.registry import Registry

SCRIPT = """
import sys
import dw_notebook as dw
from dw_notebook.datasets import sample_reviews
dw.local(rate=20.0)
job = dw.submit(sample_reviews(300), prompt="Sentiment: {review}", model="mock", name="long-run")
job.wait_submitted()
print("SUBMITTED", job.batch_ids[0], flush=True)
job.wait(progress=False)
"""


def test_ctrl_c_during_wait_keeps_the_batch_and_names_it(isolated_home):
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    line = proc.stdout.readline()
    assert line.startswith("SUBMITTED"), proc.stderr.read()
    batch_id = line.split()[1]
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)

    assert proc.returncode != 0  # the interrupt is not swallowed
    assert "Stopped waiting" in stderr and batch_id in stderr
    assert "dw.attach('long-run'" in stderr
    assert Registry().find(batch_id).name == "long-run"
