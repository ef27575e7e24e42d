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


AUTOBATCH_KERNEL = """
import os, dw_notebook as dw
dw.local(rate=30.0)
client = dw.autobatch(name="overnight", flush_after=60)
futures = [client.sync.chat.completions.create(
    model="mock", messages=[{"role": "user", "content": f"Sentiment of review {i}"}])
    for i in range(60)]
client.flush()  # the batch exists: its id is in the registry
print("SENT", flush=True)
os._exit(0)  # the kernel dies before any answer came back
"""


def test_a_new_kernel_collects_what_a_dead_kernels_autobatch_sent(isolated_home):
    result = subprocess.run([sys.executable, "-c", AUTOBATCH_KERNEL], capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0 and "SENT" in result.stdout, result.stderr
    try:
        collected = dw.autobatch(name="overnight").collect(timeout=60)
    finally:
        dw.stop_local()
    assert len(collected) == 60 and all(c.ok for c in collected)
    asked = sorted(c.request["messages"][0]["content"] for c in collected)
    assert asked == sorted(f"Sentiment of review {i}" for i in range(60))
    assert all(c.response.choices[0].message.content for c in collected)
