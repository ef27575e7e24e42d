"""Every widget at 400, 600 and 1400 px, light and dark, in JupyterLab and Notebook 7: nothing
overflows its card; the retry and the builder keep their own record; a saved notebook reopened
in a fresh JupyterLab with no kernel shows the static record, not "model not found".

One notebook run per app; the viewport is resized (not re-run) for each width; in each theme the
texts of every widget are checked to stand out from their background (3:1). Screenshots go to
``test-output/screenshots/`` in the repository so a person can look at them.
"""

from __future__ import annotations

import json
import shutil
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
WIDTHS = (1400, 600, 400)
# widget roots (and the static cards they leave) checked and photographed at every width
ROOTS = {
    "progress-live": '[data-testid="dw-progress"]',
    "progress-record": '[data-testid="dw-progress-static"]',
    "builder-record": '[data-testid="dw-builder-summary"]',
    "builder-form": '[data-testid="dw-builder"]',
    "review": '[data-testid="dw-review"]',
    "jobs": '[data-testid="dw-jobs"]',
    "autobatch": '[data-testid="dw-autobatch"]',
    "preview": '[data-testid="dw-request-preview"]',
}

LIVE = """\
from dw_notebook.progress.snapshot import AttemptSnapshot, BatchSnapshot, JobSnapshot
from dw_notebook.widgets.progress import ProgressWidget
ids = [f"batch_{'0123456789abcdef' * 2}{i}" for i in range(3)]
batches = tuple(BatchSnapshot(b, "in_progress", 400, 120 + i, 7, attempt=0)
                for i, b in enumerate(ids))
attempts = (AttemptSnapshot(0, "completed", 1200, 1100, 100, True),
            AttemptSnapshot(1, "in_progress", 100, 40, 2, False))
ProgressWidget(JobSnapshot("a-rather-long-job-name-for-narrow-outputs", "in_progress",
    total=1200, completed=1140, failed=2, batches=batches, attempts=attempts, recovered=40,
    running=50, queued=8, model="Qwen/Qwen3-VL-235B-A22B-Instruct-FP8", elapsed_s=125,
    throughput=12.5, eta_s=5, window_left_s=1800, input_tokens=123456, output_tokens=45678,
    estimated_cost=1.25, actual_cost=0.98, message="answers are simulated"))"""

# a finished job shown by the live widget and by the static HTML it leaves: the same card
SAME_CARD = """\
from IPython.display import HTML, display
from dw_notebook.widgets.static import snapshot_html
done = JobSnapshot("same-card", "completed", total=300, completed=296, failed=2, model="mock",
                   done=True, elapsed_s=62, input_tokens=1000, output_tokens=200,
                   cost_note="n/a (simulated)", extra={"hint": "Results: out = job.join()"})
display(ProgressWidget(done, static_at_end=False))
display(HTML(snapshot_html(done)))"""

HEIGHTS_JS = """
() => {
  const live = [...document.querySelectorAll('.dw-progress.dw-done')]
    .find((n) => n.textContent.includes('same-card'));
  const still = [...document.querySelectorAll('[data-testid="dw-progress-static"]')]
    .find((n) => n.textContent.includes('same-card'));
  return [live.getBoundingClientRect().height, still.getBoundingClientRect().height];
}
"""

OVERFLOW_JS = """
(selectors) => {
  const out = [];
  for (const [name, sel] of Object.entries(selectors)) {
    for (const root of document.querySelectorAll(sel)) {
      const r = root.getBoundingClientRect();
      if (r.width === 0) continue;
      if (root.scrollWidth > root.clientWidth + 1) {
        out.push(`${name}: root scrollWidth ${root.scrollWidth} > clientWidth ${root.clientWidth}`);
      }
      for (const el of root.querySelectorAll("*")) {
        const e = el.getBoundingClientRect();
        if (e.width === 0 || e.height === 0) continue;
        if (el.classList.contains("dw-sr-only")) continue;  // clipped on purpose (screen readers)
        const style = getComputedStyle(el);
        if (e.right > r.right + 1 || e.left < r.left - 1) {
          out.push(`${name}: <${el.tagName.toLowerCase()} class="${el.className}"> `
                   + `spans ${Math.round(e.left)}..${Math.round(e.right)} outside `
                   + `${Math.round(r.left)}..${Math.round(r.right)}`);
        } else if (el.scrollWidth > el.clientWidth + 1 && style.overflowX !== "visible"
                   && style.textOverflow !== "ellipsis") {
          out.push(`${name}: <${el.tagName.toLowerCase()} class="${el.className}"> hides `
                   + `${el.scrollWidth - el.clientWidth}px behind a scroll`);
        }
      }
    }
  }
  return out;
}
"""


def _cells(tmp: Path) -> list[str]:
    return [
        f"import os; os.environ['DW_NOTEBOOK_HOME'] = {str(tmp / 'home')!r}\n"
        "import dw_notebook as dw\n"
        "from dw_notebook.datasets import sample_reviews\n"
        "srv = dw.local(rate=150.0, backend_options={'failure_rate': 0.3}, max_attempts=1)\n"
        "df = sample_reviews(60)",
        'job = dw.submit(df, "Sentiment of this review, one word: {review}", model="mock",'
        ' name="records")\njob',
        "out = job.join()\nsrv.backend.failure_rate = 0.0",
        "job.retry()",
        "job.join()\nprint('DW-MARK:retried')",
        "form = dw.builder(df, template='Label this review: {review}', model='mock',"
        " max_tokens=20)\nform",
        "built = form.submit({})\nbuilt.join()\nprint('DW-MARK:built')",
        LIVE,
        "dw.builder(df, template='Label this review of a {product}: {review}', model='mock')",
        SAME_CARD,
        "dw.review(job, out)  # the first run, with its failures",
        "dw.jobs(auto_refresh=None)",
        "client = dw.autobatch(name='records-ab', flush_after=600)\nclient",
        "dw.prepare(df, 'Sentiment of this review, one word: {review}', model='mock',"
        " system='You label reviews of the products of a rather long catalogue.').preview(3)",
        "print('DW-MARK:end')",
    ]


def _output_text(page, index: int) -> str:
    return page.evaluate(
        """(i) => {
          const cells = document.querySelectorAll('.jp-Notebook .jp-Cell');
          const out = cells[i] && cells[i].querySelector('.jp-OutputArea');
          return out ? out.textContent : '';  // innerText is empty for cells out of view
        }""",
        index,
    )


def _set_theme(page, dark: bool) -> None:
    if dark:
        use_dark_theme(page)
        return
    page.page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme',"
        " { theme: 'JupyterLab Light' })"
    )
    page.page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'")


def _look_at_every_width(page, app: str) -> list[str]:
    """Screenshots of each widget at each width and theme; returns the overflow found and, per
    theme, the texts that do not stand out from their background."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    p = page.page
    for dark in (False, True):
        _set_theme(page, dark)
        theme = "dark" if dark else "light"
        for width in WIDTHS:
            if app == "lab":  # 600 px with the file browser open; 400 px (a phone) without
                side = "collapseLeft" if width < 600 else "expandLeft"
                p.evaluate(f"() => window.jupyterapp.shell.{side}()")
            p.set_viewport_size({"width": width, "height": 1800})  # tall cards fit a shot
            p.wait_for_timeout(250)  # layout and container queries settle
            for issue in p.evaluate(OVERFLOW_JS, ROOTS):
                problems.append(f"{app} {theme} {width}px {issue}")
            if width == WIDTHS[0]:
                for name, selector in ROOTS.items():
                    figures = contrast(page, selector)
                    if figures["cards"] and not figures["checked"]:
                        problems.append(f"{app} {theme} {name}: no text to check")
                    for low in figures["low"]:
                        problems.append(f"{app} {theme} {name}: contrast {low}")
            for name, selector in ROOTS.items():
                node = p.locator(selector).first
                if node.count():
                    node.scroll_into_view_if_needed()
                    node.screenshot(path=str(SHOTS / f"{app}-{theme}-{width}-{name}.png"))
    p.set_viewport_size({"width": 1280, "height": 900})
    return problems


def _run(page, jupyter, tmp_path: Path, app: str) -> str:
    path = write_notebook(jupyter.root, f"records-{app}.ipynb", _cells(tmp_path))
    open_notebook(page, jupyter, path, app)
    run_all(page)
    page.wait_for_mark("end", timeout=150)
    p = page.page
    p.wait_for_selector('[data-testid="dw-review"] [data-testid="dw-page-row"]', timeout=30_000)
    p.click('[data-testid="dw-review"] [data-testid="dw-tab-failed"]')
    p.wait_for_selector('[data-testid="dw-error-group"]', timeout=10_000)
    return path


def _check_run_records(p) -> None:
    """The submit cell shows the whole job, the retry cell its attempt only, the builder cell
    what was sent above the job."""
    submitted = _output_text(p, 1)
    assert "recovered on retry 1" in submitted and "first run" in submitted, submitted
    assert "60 rows: 60 answered · 0 failed · 0 missing" in submitted  # joined: rows by outcome
    retried = _output_text(p, 3)
    assert "retry 1" in retried and "60 / 60" not in retried, retried
    built = _output_text(p, 5)
    assert "Submitted with dw.builder" in built and "max_tokens=20" in built, built
    assert "Label this review: {review}" in built and "60 rows: 60 answered" in built


def test_every_widget_fits_every_width_and_keeps_its_record_in_lab(jupyter, page, tmp_path):
    path = _run(page, jupyter, tmp_path, "lab")
    p = page.page
    _check_run_records(p)

    problems = _look_at_every_width(page, "lab")
    assert problems == [], "\n".join(problems[:30])
    assert page.errors == []
    live, still = p.evaluate(HEIGHTS_JS)  # the output does not jump when the job ends
    print(f"card heights: live {live:.1f} px, static {still:.1f} px")
    assert abs(live - still) <= 3, (live, still)

    # save, then reopen the file in a fresh JupyterLab (own data dir: nothing of this session)
    p.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    saved = jupyter.root / path
    p.wait_for_function(
        "() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=10_000
    )
    nb = json.loads(saved.read_text())
    nb["metadata"]["kernelspec"] = {"name": "no-such-kernel", "display_name": "none",
                                    "language": "python"}  # fmt: skip
    fresh_base = tmp_path / "fresh"
    fresh_base.mkdir()
    with serve_jupyter(
        fresh_base, env_extra={"JUPYTER_DATA_DIR": str(fresh_base / "data")}
    ) as fresh:
        (fresh.root / "saved.ipynb").write_text(json.dumps(nb))
        p.goto(fresh.app_url("lab", "saved.ipynb"))
        shutil.copy(saved, SHOTS / "lab-saved-notebook.ipynb")
        try:  # the sanitizer of an untrusted notebook drops data-* attributes: wait on text
            p.wait_for_selector(".jp-Notebook .jp-OutputArea-output", timeout=60_000)
            p.keyboard.press("Escape")  # the "select a kernel" dialog: stay without one
            p.wait_for_selector("text=Failed rows by error", timeout=20_000)
            p.wait_for_timeout(500)
            # textContent: cells scrolled out of view are not laid out (no innerText)
            text = p.evaluate("() => document.querySelector('.jp-Notebook').textContent")
        finally:
            p.screenshot(path=str(SHOTS / "lab-reopened-without-kernel.png"), full_page=True)
    assert "model not found" not in text and "Error displaying widget" not in text
    assert "recovered on retry 1" in text and "Submitted with dw.builder" in text
    assert "Failed rows by error" in text and "Jobs" in text


def test_every_widget_fits_every_width_and_keeps_its_record_in_notebook_7(jupyter, page, tmp_path):
    _run(page, jupyter, tmp_path, "notebook")
    _check_run_records(page.page)
    problems = _look_at_every_width(page, "notebook")
    assert problems == [], "\n".join(problems[:30])
    assert page.errors == []
