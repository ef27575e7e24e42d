"""A kernel restart loses nothing: the embedded server resumes and dw.attach finds the job."""

from __future__ import annotations

import subprocess
import sys

import dw_notebook as dw
from dw_notebook.datasets import sample_reviews

FIRST_KERNEL = """
import os, dw_notebook as dw
from dw_notebook.datasets import sample_reviews
dw.local(rate=30.0)
job = dw.submit(sample_reviews(120), prompt="Sentiment: {review}", model="mock", name="before")
import time; time.sleep(1.0)
print("DONE-SO-FAR", job.refresh().completed, flush=True)
os._exit(0)  # the kernel dies: no clean shutdown of the server thread
"""


def test_attach_after_the_kernel_died_mid_batch_joins_every_row(isolated_home):
    result = subprocess.run([sys.executable, "-c", FIRST_KERNEL], capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    done_before = int(result.stdout.split("DONE-SO-FAR")[1].split()[0])
    assert 0 < done_before < 120  # it really died mid-batch

    df = sample_reviews(120)
    try:
        job = dw.attach("before", df)
        assert job.connection.simulated
        out = job.join(timeout=60)
        batch = job._client.get_batch(job.batch_ids[0])
        lines = job._client.file_content(batch["output_file_id"]).data.splitlines()
    finally:
        dw.stop_local()
    assert out["status"].eq("ok").all()
    assert out["content"].notna().all()
    assert len(lines) == 120  # nothing was run twice after the restart
