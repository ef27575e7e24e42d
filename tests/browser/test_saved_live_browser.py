"""A notebook saved while its widgets are live (a running job, a submitted builder's running job,
a builder form not submitted, a review, the jobs dashboard and a job it opened, an autobatch
client, a request preview) reopens in a fresh server with no kernel, trusted, in JupyterLab and
Notebook 7, showing each widget's static record instead of "Error displaying widget: model not
found"; and untrusted in the dark theme, readable.

One live run in JupyterLab; the saved file is then opened four ways (the last trusted in
JupyterLab with a new kernel, as when a notebook is opened again the next day). Screenshots go to
``test-output/screenshots/``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import (
    REPO,
    contrast,
    open_notebook,
    run_all,
    serve_jupyter,
    use_dark_theme,
    write_notebook,
)

pytestmark = pytest.mark.browser

SHOTS = REPO / "test-output" / "screenshots"

# what each record says, as text a reader sees
EXPECTED = {
    "running job": "still-running",
    "builder summary": "Submitted with dw.builder",
    "builder form": "A dw.builder form, not submitted",
    "review": "Failed rows by error",
    "dashboard": "Jobs",
    "autobatch": "autobatch saved-ab",
    "preview": "system prompt, the same for every request",
}


def _cells(tmp: Path) -> list[str]:
    return [
        f"import os; os.environ['DW_NOTEBOOK_HOME'] = {str(tmp / 'home')!r}\n"
        "import dw_notebook as dw\n"
        "from dw_notebook.datasets import sample_reviews\n"
        "srv = dw.local(rate=200.0, backend_options={'failure_rate': 0.3}, max_attempts=1)\n"
        "df = sample_reviews(40)\n"
        "done = dw.submit(df, 'Sentiment of this review, one word: {review}', model='mock',"
        " name='finished')\n"
        "out = done.join()",
        "done.review()",
        "srv.runner.rate = 0.5  # the next jobs run while the notebook is saved\n"
        "running = dw.submit(df, 'Sentiment, one word: {review}', model='mock',"
        " name='still-running')\nrunning",
        "form = dw.builder(df, template='Label this review: {review}', model='mock')\nform",
        "form.submit({})\nprint('DW-MARK:built')",
        "dw.builder(df, template='Rate this review of a {product}: {review}', model='mock')",
        "client = dw.autobatch(name='saved-ab', flush_after=600)\n"
        "call = client.sync.chat.completions.create(model='mock',"
        " messages=[{'role': 'user', 'content': 'hi'}])\nclient",
        "dw.jobs(auto_refresh=None)",
        "dw.prepare(df, 'Classify: {review}', model='mock', system='You label reviews. Cost: $1',"
        " max_tokens=20).preview(3)",
        "print('DW-MARK:end')",
    ]


KERNEL_IDLE = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = w && w.sessionContext && w.sessionContext.session
    && w.sessionContext.session.kernel;
  return Boolean(kernel) && kernel.status === 'idle';
}"""


def _reopen(page, base: Path, nb: dict, app: str, *, trusted: bool, dark: bool,
            kernel: bool = False) -> dict:  # fmt: skip
    """Open ``nb`` in a fresh server (own data dir: no trust, no state of the live session),
    without a kernel (or with a new one); returns the notebook's text and contrast figures."""
    if kernel:
        nb = {**nb, "metadata": {**nb["metadata"], "kernelspec": {
            "name": "python3", "display_name": "Python 3", "language": "python"}}}  # fmt: skip
    base.mkdir()
    data = base / "data"
    env = {"JUPYTER_DATA_DIR": str(data)}
    with serve_jupyter(base, env_extra=env) as fresh:
        path = fresh.root / "saved.ipynb"
        path.write_text(json.dumps(nb))
        if trusted:
            subprocess.run([sys.executable, "-m", "jupyter", "trust", str(path)], check=True,
                           env={**os.environ, **env}, capture_output=True)  # fmt: skip
        p = page.page
        p.goto(fresh.app_url(app, "saved.ipynb"))
        look = f"{'trusted' if trusted else 'untrusted'}-{'dark' if dark else 'light'}"
        name = f"{app}-saved-live-{look}{'-new-kernel' if kernel else ''}"
        try:
            p.wait_for_selector(".jp-Notebook .jp-OutputArea-output", timeout=60_000)
            if kernel:  # a new kernel knows none of the saved models
                p.wait_for_function(KERNEL_IDLE, timeout=60_000)
            else:
                p.keyboard.press("Escape")  # the "select a kernel" dialog: stay without one
            if dark:
                use_dark_theme(page)
            p.wait_for_selector("text=Failed rows by error", timeout=20_000)
            p.wait_for_timeout(1000)  # widgets restored from the saved state render
            text = p.evaluate("() => document.querySelector('.jp-Notebook').textContent")
            records = p.evaluate("() => document.querySelectorAll('.dw-record').length")
            figures = contrast(page, '.jp-OutputArea-output div[style*="border-left"]')
        finally:
            p.set_viewport_size({"width": 1280, "height": 3200})  # every record in one shot
            p.wait_for_timeout(300)
            p.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
            p.set_viewport_size({"width": 1280, "height": 900})
    return {"text": text, "records": records, "contrast": figures}


def test_a_notebook_saved_while_live_reopens_with_every_record(jupyter, page, tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = write_notebook(jupyter.root, "saved-live.ipynb", _cells(tmp_path))
    open_notebook(page, jupyter, path, "lab")
    run_all(page)
    page.wait_for_mark("end", timeout=120)
    p = page.page
    for testid in ("dw-review", "dw-jobs", "dw-autobatch", "dw-builder-summary"):
        p.wait_for_selector(f'[data-testid="{testid}"]', timeout=30_000)
    # Open on the finished job shows its review below the dashboard (the running one, progress)
    finished = p.locator('[data-testid="dw-jobs"] tr', has_text="finished")
    finished.locator('[data-testid="dw-job-attach"]').click()
    p.wait_for_function(
        "() => document.querySelectorAll('[data-testid=\"dw-review\"]').length === 2",
        timeout=30_000,
    )
    p.screenshot(path=str(SHOTS / "lab-saved-live-opened-review.png"))
    p.locator('[data-testid="dw-request-preview"]').first.screenshot(
        path=str(SHOTS / "lab-preview.png")
    )
    assert p.locator('[data-testid="dw-progress"]').count() >= 2  # both jobs still running
    p.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    p.wait_for_function(
        "() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=10_000
    )
    nb = json.loads((jupyter.root / path).read_text())
    p.evaluate("() => window.jupyterapp.commands.execute('kernelmenu:shutdown')")
    (SHOTS / "saved-live.ipynb").write_text(json.dumps(nb, indent=1))
    nb["metadata"]["kernelspec"] = {"name": "no-such-kernel", "display_name": "none",
                                    "language": "python"}  # fmt: skip
    state = nb["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    # the records are the saved outputs' static HTML; nothing of the key or the live widgets
    assert len(state) >= 7 and all(m["model_name"] == "OutputModel" for m in state.values())

    seen = {}
    ways = [("lab", True, False, False), ("notebook", True, True, False),
            ("lab", False, True, False), ("lab", True, False, True)]  # fmt: skip
    for app, trusted, dark, kernel in ways:
        name = f"{app}-{'trusted' if trusted else 'untrusted'}-{'dark' if dark else 'light'}"
        name += "-new-kernel" if kernel else ""
        seen[name] = _reopen(page, tmp_path / name, nb, app, trusted=trusted, dark=dark,
                             kernel=kernel)  # fmt: skip

    for name, got in seen.items():
        text = got["text"]
        assert "model not found" not in text and "Error displaying widget" not in text, name
        missing = [k for k, want in EXPECTED.items() if want not in text]
        assert missing == [], (name, missing)
        assert "in progress" in text or "validating" in text, name  # the running job says so
        assert "as of 20" in text, name  # and when that was true
        assert text.count("Failed rows by error") == 2, name  # the review and the opened one
        assert "Cost: &#36;1" not in text and "Cost: $1" in text, name
        figures = got["contrast"]
        assert figures["cards"] >= 5 and figures["checked"] > 20, (name, figures)
        assert figures["low"] == [], (name, figures["low"][:10])
        assert figures["bars"] and min(figures["bars"]) >= 1.5, (name, figures["bars"])
    # trusted, the widget renderer shows the saved records (untrusted, the outputs' HTML)
    assert seen["lab-trusted-light"]["records"] >= 7
    assert seen["notebook-trusted-dark"]["records"] >= 7
    assert seen["lab-trusted-light-new-kernel"]["records"] >= 7
    assert page.errors == []
