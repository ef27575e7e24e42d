"""The review and the dashboard read well at 400, 900 and 1400 px, and every widget's controls
are accessible, in real JupyterLab, light and dark.

Measured in the DOM, not guessed: row ids stay on one line, no word of a prompt or a job name is
broken across lines, bars are as long as their counts (one scale for every chart), bookkeeping
columns get no chart, every control has a name in words, red and badge texts keep 4.5:1 at 12 px
or more, and a disabled button looks disabled in the dark theme. Screenshots of each width go to
``test-output/screenshots/`` to be looked at.
"""

from __future__ import annotations

import pytest

from .conftest import open_notebook, run_all, write_notebook
from .test_records_browser import SHOTS, _set_theme

pytestmark = pytest.mark.browser

CELLS = [
    """\
import numpy as np
import pandas as pd
import dw_notebook as dw
from dw_notebook.progress.snapshot import JobSnapshot
from dw_notebook.widgets.jobs import JobsWidget
from dw_notebook.widgets.progress import ProgressWidget
from dw_notebook.widgets.review import META_COLUMNS, ReviewWidget

dw.local()
rng = np.random.default_rng(0)
n = 318  # 290 answered, 28 failed
ids = [f"{m}.{f}_{i}" for i, (m, f) in enumerate(
    [("email.utils", "parsedate_to_datetime"), ("collections", "namedtuple"),
     ("urllib.parse", "urlsplit"), ("os.path", "commonpath")] * 80)][:n]
words = ("Return a new object of the given type built from the arguments and raise "
         "ValueError when the representation cannot be converted to the requested format").split()
text = [" ".join(words[(i % 7):] + words[:(i % 7)]) for i in range(n)]
operation = ["query"] * 148 + ["convert"] * 116 + ["io"] * 20 + ["create"] * 6 + [None] * 28
frame = pd.DataFrame({
    "text": text,
    "operation": pd.Categorical(operation),
    "mentions_errors": pd.array([i % 3 == 0 for i in range(n)], dtype="boolean"),
    "confidence": rng.uniform(0.4, 1.0, n).round(2),
    "status": ["ok"] * n, "error": [None] * n, "finish_reason": ["stop"] * n,
    "prompt_tokens": [120] * n, "completion_tokens": [14] * n,
    "batch_id": ["batch_01J9Z"] * n, "attempt": [1] * n,
    "phase": pd.Categorical(["pilot"] * 10 + ["rest"] * (n - 10)),
    "earlier_prompt": [i < 10 for i in range(n)],
}, index=ids)
failed = frame.index[290:]
frame.loc[failed, "status"] = "failed"
frame.loc[failed, "error"] = "HTTP 400: context_length_exceeded: too long"
frame.loc[failed, ["mentions_errors", "confidence"]] = None
own = ["text"]  # as dw.review picks answers: the columns the join added, bookkeeping left out
answers = [c for c in frame.columns if c not in own and c not in META_COLUMNS]
ReviewWidget(frame, prompt="text", answer_columns=answers, page_size=6)""",
    """\
now = pd.Timestamp.now().timestamp()
JobsWidget([
    {"id": "batch_a", "name": "stdlib-docstrings", "status": "in_progress", "total": 850,
     "completed": 300, "failed": 4, "created_at": now - 95, "model": "Qwen/Qwen3.5-9B",
     "source": "local", "pilot": "", "attempts": 2,
     "batches": [{"id": "batch_a", "attempt": 0, "status": "completed", "total": 10,
                  "completed": 10, "failed": 0},
                 {"id": "batch_b", "attempt": 1, "status": "in_progress", "total": 840,
                  "completed": 290, "failed": 4}]},
    {"id": "batch_c", "name": "customer-support-ticket-triage with priorities", "status":
     "completed", "total": 50, "completed": 50, "failed": 0, "created_at": now - 4000,
     "model": "Qwen/Qwen3.5-9B", "source": "server"},
])""",
    """\
pilot = {"state": "ready", "n": 2, "rest": 848, "window": "24h", "columns": ["operation"],
         "error": None,
         "figures": {"24h": {"model": "Qwen/Qwen3.5-9B", "window": "24h", "pilot_rows": 2,
                             "answered": 2, "failed": 0, "truncated": 1,
                             "input_tokens_per_row": 120.0, "output_tokens_per_row": 14.0,
                             "rest_rows": 848, "rest_input_tokens": 101760,
                             "rest_output_tokens": 11872}},
         "rows": [{"prompt": "Return the path", "answers": {"operation": "query"},
                   "status": "ok", "finish_reason": "length", "prompt_tokens": 120,
                   "completion_tokens": 16},
                  {"prompt": "Split a URL", "answers": {"operation": "convert"},
                   "status": "ok", "finish_reason": "stop", "prompt_tokens": 118,
                   "completion_tokens": 9}]}
ProgressWidget(JobSnapshot("stdlib-docstrings", "completed", total=2, completed=2, done=True,
                           model="Qwen/Qwen3.5-9B", pilot=pilot))""",
    'dw.builder(frame[["text"]].head(5), template="{missing_column}")',
    "print('DW-MARK:' + 'shown')",
]

# Row ids on more than one line; prompt / job-name cells styled to break any word, or with a word
# (between spaces, hyphens and slashes, where browsers may break) split over two lines (a Range
# around the word has rects on two lines) though the word fits the cell.
WRAP_JS = """
(selectors) => {
  const out = [];
  const lines = (node) => {  // distinct line tops of the text inside node
    const tops = new Set();
    const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
      const range = document.createRange();
      range.selectNodeContents(t);
      for (const r of range.getClientRects()) if (r.width > 0) tops.add(Math.round(r.top));
    }
    return tops.size;
  };
  for (const td of document.querySelectorAll('.dw-review td.dw-row-label')) {
    if (lines(td) > 1) out.push(`id on ${lines(td)} lines: ${td.textContent}`);
  }
  for (const sel of selectors) {
    for (const cell of [...document.querySelectorAll(sel)].slice(0, 12)) {
      const style = getComputedStyle(cell);
      if (style.overflowWrap === 'anywhere' || style.wordBreak === 'break-all') {
        out.push(`${sel} may break any word: ${style.overflowWrap} ${style.wordBreak}`);
      }
      const box = cell.getBoundingClientRect();
      const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
      for (let t = walker.nextNode(); t; t = walker.nextNode()) {
        for (const m of t.textContent.matchAll(/[^\\s/-]+/g)) {
          const range = document.createRange();
          range.setStart(t, m.index);
          range.setEnd(t, m.index + m[0].length);
          const rects = [...range.getClientRects()].filter((r) => r.width > 0);
          const width = range.getBoundingClientRect().width;
          const tops = new Set(rects.map((r) => Math.round(r.top)));
          if (tops.size > 1 && width < box.width) out.push(`word broken in ${sel}: ${m[0]}`);
        }
      }
    }
  }
  return out;
}
"""

# Each chart bar's drawn length and its count: one scale means length / count is one number.
BARS_JS = """
() => [...document.querySelectorAll('.dw-review .dw-dist-row')].map((row) => ({
  chart: row.closest('.dw-dist').dataset.column,
  label: row.dataset.label,
  count: Number(row.querySelector('.dw-dist-count').textContent.split(' ')[0].replace(/,/g, '')),
  width: row.querySelector('.dw-dist-fill').getBoundingClientRect().width,
  track: row.querySelector('.dw-dist-track').getBoundingClientRect().width,
}))
"""

# WCAG contrast of an element's text against what is behind it; colours read back from a
# canvas so any CSS colour syntax (color-mix, color(srgb ...)) is handled, alpha blended.
CONTRAST_JS = """
(selector) => {
  const ctx = document.createElement('canvas').getContext('2d', { willReadFrequently: true });
  const rgba = (css) => {
    ctx.clearRect(0, 0, 1, 1);
    ctx.fillStyle = '#000';
    ctx.fillStyle = css;
    ctx.fillRect(0, 0, 1, 1);
    const [r, g, b, a] = ctx.getImageData(0, 0, 1, 1).data;
    return { r, g, b, a: a / 255 };
  };
  const over = (top, under) => ({
    r: top.r * top.a + under.r * (1 - top.a), g: top.g * top.a + under.g * (1 - top.a),
    b: top.b * top.a + under.b * (1 - top.a), a: 1,
  });
  const background = (el) => {
    const layers = [];
    for (let n = el; n; n = n.parentElement) {
      const c = rgba(getComputedStyle(n).backgroundColor);
      if (c.a > 0) layers.push(c);
      if (c.a >= 1) break;
    }
    return layers.reverse().reduce((acc, c) => over(c, acc), { r: 255, g: 255, b: 255, a: 1 });
  };
  const lum = ({ r, g, b }) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const shown = [...document.querySelectorAll(selector)].filter((el) => el.getClientRects().length);
  return shown.map((el) => {
    const style = getComputedStyle(el);
    const bg = background(el);
    const fg = over(rgba(style.color), bg);
    const [x, y] = [lum(fg), lum(bg)].sort((p, q) => q - p);
    return { text: el.textContent.trim().slice(0, 30), ratio: (x + 0.05) / (y + 0.05),
             size: parseFloat(style.fontSize) };
  });
}
"""

# texts whose contrast is measured: status words, red texts, badges, muted figures, controls
TEXTS = (".dw-pilot-status", ".dw-notice", ".dw-badge", ".dw-msg-error", ".dw-dist-count",
         ".dw-row-label", ".dw-muted", ".dw-pilot-prompt", ".dw-tab", ".dw-filter",
         ".dw-button:not(:disabled)", ".dw-cell-text", ".dw-dist-label")  # fmt: skip
IN_WIDGET = "function() { return Boolean(this.closest('.dw-widget')); }"
GLYPHS = set("‹›«»✕✖×▸▾▴▹◂←→↑↓")


def _accessible_names(p) -> list[tuple[str, str, str]]:
    """(role, name, testid) of every control inside the widgets, from Chromium's own tree."""
    cdp = p.context.new_cdp_session(p)
    try:
        nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
        roles = {"button", "combobox", "checkbox", "textbox", "spinbutton", "tab", "link",
                 "DisclosureTriangle", "ListBox", "PopUpButton"}  # fmt: skip
        out = []
        for node in nodes:
            role = (node.get("role") or {}).get("value", "")
            if role not in roles or node.get("ignored"):
                continue
            name = (node.get("name") or {}).get("value", "")
            backend = node.get("backendDOMNodeId")
            if backend is None:
                continue
            described = cdp.send("DOM.describeNode", {"backendNodeId": backend})["node"]
            attrs = described.get("attributes") or []
            attr = dict(zip(attrs[::2], attrs[1::2], strict=True))
            inside = cdp.send(
                "DOM.resolveNode", {"backendNodeId": backend}
            )["object"]  # fmt: skip
            in_widget = cdp.send(
                "Runtime.callFunctionOn",
                {"objectId": inside["objectId"], "returnByValue": True,
                 "functionDeclaration": IN_WIDGET},
            )["result"]["value"]  # fmt: skip
            if in_widget:
                out.append((role, name, attr.get("data-testid") or attr.get("class", "")))
        return out
    finally:
        cdp.detach()


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_review_dashboard_and_controls_read_well(jupyter, page, app):
    path = write_notebook(jupyter.root, f"layout-{app}.ipynb", CELLS)
    open_notebook(page, jupyter, path, app)
    run_all(page)
    page.wait_for_mark("shown", timeout=90)
    p = page.page
    p.wait_for_selector('[data-testid="dw-page-row"]', timeout=60_000)
    p.wait_for_selector('[data-testid="dw-job-row"]', timeout=60_000)
    p.wait_for_selector('[data-testid="dw-pilot-row"]', timeout=60_000)
    p.wait_for_selector('[data-testid="dw-submit"]', timeout=60_000)
    p.locator('[data-testid="dw-job-expand"]').first.click()

    # bookkeeping columns get no chart; only the answers do
    charted = p.evaluate(
        "() => [...document.querySelectorAll('.dw-charts [data-column]')]"
        ".map((e) => e.dataset.column)"
    )
    assert set(charted) == {"operation", "mentions_errors", "confidence"}, charted

    SHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for width, side in ((1400, "expandLeft"), (900, "collapseLeft"), (400, "collapseLeft")):
        if app == "lab":  # 1400 px with the file browser open (~1100 px for the notebook)
            p.evaluate(f"() => window.jupyterapp.shell.{side}()")
        p.set_viewport_size({"width": width, "height": 1600})
        p.wait_for_timeout(400)
        cells = [".dw-review td.dw-col-prompt .dw-cell-text", ".dw-jobs .dw-job-title"]
        problems += [f"{app} {width}px {issue}" for issue in p.evaluate(WRAP_JS, cells)]
        bars = p.evaluate(BARS_JS)
        tracks = {round(b["track"]) for b in bars}
        scale = [b["width"] / b["count"] for b in bars if b["count"]]
        if max(scale) - min(scale) > 0.02 * max(scale) + 1 / min(
            b["count"] for b in bars if b["count"]
        ):
            problems.append(f"{app} {width}px bars not on one scale: {bars}")
        by = {(b["chart"], b["label"]): b["width"] for b in bars}
        if by[("operation", "query")] - by[("operation", "convert")] < 4:
            problems.append(f"{app} {width}px 148 and 116 drawn alike: {by}")
        if width > 400 and len(tracks) > 1:
            problems.append(f"{app} {width}px chart tracks differ: {tracks}")
        for name in ("review", "jobs", "progress"):
            node = p.locator(f'[data-testid="dw-{name}"]').first
            node.scroll_into_view_if_needed()
            node.screenshot(path=str(SHOTS / f"layout-{app}-{width}-{name}.png"))
    assert problems == [], "\n".join(problems[:20])

    # every control is named in words, never by a glyph
    p.set_viewport_size({"width": 1400, "height": 1600})
    p.locator('.dw-review [data-label="convert"]').click()
    p.wait_for_selector('[data-testid="dw-review-filter-clear"]')
    assert p.inner_text('[data-testid="dw-tab-samples"]') == "Samples (116 of 290)"
    names = _accessible_names(p)
    assert len(names) > 20, names
    bad = [n for n in names if not any(w.isalpha() and len(w) > 1 for w in n[1].split())
           or GLYPHS & set(n[1])]  # fmt: skip
    assert bad == [], bad
    named = {testid: name for _, name, testid in names}
    assert named["dw-page-prev"] == "Previous page" and named["dw-page-next"] == "Next page"
    assert named["dw-review-filter-clear"] == "Clear the filter"

    for dark in (False, True):
        _set_theme(page, dark)
        theme = "dark" if dark else "light"
        p.wait_for_timeout(300)
        for selector in TEXTS:
            for found in p.evaluate(CONTRAST_JS, selector):
                if found["ratio"] < 4.5:
                    problems.append(f"{app} {theme} {selector} {found}")
        truncated = p.evaluate(CONTRAST_JS, ".dw-pilot-bad")
        assert truncated and truncated[0]["text"] == "ok, truncated", truncated
        if truncated[0]["size"] < 12:
            problems.append(f"{app} {theme} truncated badge at {truncated[0]['size']} px")
        submit = p.evaluate(
            """() => { const b = document.querySelector('[data-testid="dw-submit"]');
                 const s = getComputedStyle(b);
                 return { disabled: b.disabled, opacity: Number(s.opacity), cursor: s.cursor }; }"""
        )
        if not (
            submit["disabled"] and submit["opacity"] <= 0.7 and submit["cursor"] == "not-allowed"
        ):
            problems.append(f"{app} {theme} disabled Submit looks enabled: {submit}")
        for name in ("builder", "progress", "review"):
            node = p.locator(f'[data-testid="dw-{name}"]').first
            node.scroll_into_view_if_needed()
            node.screenshot(path=str(SHOTS / f"layout-{app}-{theme}-{name}.png"))
    _set_theme(page, False)
    assert problems == [], "\n".join(problems[:30])
    assert page.errors == []
