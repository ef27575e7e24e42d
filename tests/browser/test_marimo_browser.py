"""In marimo, a cell ending in ``job`` shows the live progress widget (not the job's text), its
counts move to done while the job runs, and ``job.review()`` (paging through the kernel) and
``dw.jobs()`` render.

A marimo app is served by ``marimo run --headless`` and opened in Chromium. Screenshots go to
``test-output/screenshots/``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import REPO, _free_port, stop

pytest.importorskip("marimo", reason="marimo is not installed (the dev extra has it)")

pytestmark = pytest.mark.browser

SHOTS = REPO / "test-output" / "screenshots"
ROWS = 40

APP = """\
import marimo

app = marimo.App()


@app.cell
def _():
    import os

    os.environ["DW_NOTEBOOK_HOME"] = {home!r}
    import dw_notebook as dw
    from dw_notebook.datasets import sample_reviews

    dw.local(rate=8.0)  # {rows} rows in about 5 s: the counts are seen moving
    job = dw.submit(sample_reviews({rows}), "Sentiment, one word: {{review}}", model="mock",
                    name="marimo-job")
    job
    return dw, job


@app.cell
def _(job):
    job.wait()
    job.review()
    return


@app.cell
def _(dw, job):
    job.wait()
    dw.jobs(auto_refresh=None)
    return
"""


def _serve(app: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    env.pop("DOUBLEWORD_API_KEY", None)
    cmd = [sys.executable, "-m", "marimo", "run", str(app), "--headless", "--no-token",
           "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=app.parent)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"marimo exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.terminate()
            raise RuntimeError(f"marimo did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def test_job_review_and_dashboard_are_live_widgets_in_marimo(page, tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    app = tmp_path / "app.py"
    app.write_text(APP.format(home=str(tmp_path / "home"), rows=ROWS))
    proc, url = _serve(app, tmp_path / "marimo.log")
    try:
        p = page.page
        p.goto(url)
        counts = p.locator('[data-testid="dw-progress"] [data-testid="dw-counts"]')
        seen: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # every distinct text the live widget shows
            texts = counts.all_text_contents()
            if texts and (not seen or seen[-1] != texts[0]):
                seen.append(texts[0])
            if seen and seen[-1].startswith(f"{ROWS} / {ROWS} done"):
                break
            time.sleep(0.1)
        assert seen and seen[-1].startswith(f"{ROWS} / {ROWS} done"), seen
        done = [int(m.group(1)) for t in seen if (m := re.match(rf"(\d+) / {ROWS} done", t))]
        assert [n for n in done if 0 < n < ROWS], seen  # updates arrived while it ran

        review = p.locator('[data-testid="dw-review"]')
        review.wait_for(timeout=30_000)
        assert "Samples" in review.inner_text()
        review.get_by_text("Next").click()  # a page request to the kernel and its answer
        review.get_by_text("page 2 of 2").wait_for(timeout=15_000)  # (in marimo's shadow DOM)
        dashboard = p.locator('[data-testid="dw-jobs"]')
        dashboard.wait_for(timeout=30_000)
        assert "marimo-job" in dashboard.inner_text()
        p.set_viewport_size({"width": 1200, "height": 2000})
        p.wait_for_timeout(300)
        p.screenshot(path=str(SHOTS / "marimo-job-review-jobs.png"), full_page=True)
        assert page.errors == []
    finally:
        stop(proc)
