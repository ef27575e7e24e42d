"""The labelling notebook as a marimo user gets it: ``marimo convert`` of the shipped notebook,
served by ``marimo run`` in headless Chromium, runs to the end with no error; the pilot's widget
offers its fix, the review's counts are the ones Python computes, and nothing is typeset."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import REPO, stop
from .test_marimo_browser import SHOTS, _serve

pytest.importorskip("marimo", reason="marimo is not installed (the dev extra has it)")

pytestmark = pytest.mark.browser

# Appended to the converted app: after the last join, the review of the whole job and the
# counts Python computes for it.
TAIL = """

@app.cell
def _(job, out_1):
    assert len(out_1)  # runs after the retry's join
    final_review = job.review()
    final_review
    return (final_review,)


@app.cell
def _(final_review):
    import json as _json

    "DW-FIGURES:" + _json.dumps(final_review.counts.to_dict())
    return
"""


def _convert(tmp_path: Path) -> Path:
    app = tmp_path / "labelling.py"
    subprocess.run(
        [sys.executable, "-m", "marimo", "convert", str(REPO / "notebooks" / "labelling.ipynb"),
         "-o", str(app)], check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    source = app.read_text()
    main = source.index('\nif __name__ == "__main__":')
    app.write_text(source[:main] + TAIL + source[main:])
    return app


@pytest.mark.timeout(900)
def test_labelling_notebook_in_marimo(page, tmp_path, monkeypatch):
    SHOTS.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("DW_NOTEBOOK_HOME", str(tmp_path / "home"))  # the server's environment
    app = _convert(tmp_path)
    log = tmp_path / "marimo.log"
    proc, url = _serve(app, log)
    try:
        p = page.page
        p.set_viewport_size({"width": 1280, "height": 1600})
        p.goto(url)
        figures_text = p.get_by_text("DW-FIGURES:")
        deadline = time.monotonic() + 600
        while not figures_text.count():  # the end, or the first cell that raised
            assert "Traceback" not in log.read_text(errors="replace"), log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the app never reached its last cell"
            time.sleep(0.5)
        time.sleep(1)  # the last widgets draw
        p.screenshot(path=str(SHOTS / "marimo-labelling.png"), full_page=True)
        assert "Traceback" not in log.read_text(errors="replace"), log.read_text()[-3000:]
        assert page.errors == []
        assert p.locator("mjx-container, .MathJax, .katex").count() == 0

        pilot = p.locator('[data-testid="dw-pilot"]').first
        pilot.screenshot(path=str(SHOTS / "marimo-labelling-pilot.png"))
        for i, review in enumerate(p.locator('[data-testid="dw-review"]').all()):
            review.screenshot(path=str(SHOTS / f"marimo-labelling-review-{i}.png"))
        title = pilot.locator('[data-testid="dw-pilot-title"]').inner_text()
        assert "sent on the 24h window with max_tokens=64" in title, title

        shown = figures_text.inner_text()  # marimo shows the string's repr
        figures = json.loads(shown[shown.index("{") : shown.rindex("}") + 1])
        assert figures["rows"] == figures["answered"] + figures["failed"] + figures["missing"]
        header = p.locator('[data-testid="dw-review-counts"]').last.inner_text()
        assert f"{figures['rows']:,} rows: {figures['answered']:,} answered" in header, header
    finally:
        stop(proc)
