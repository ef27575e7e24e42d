"""Real-browser harness: a JupyterLab server (which also serves Notebook 7) and headless Chromium.

Fixtures
- ``jupyter``: session-scoped server in throwaway config/runtime/data dirs on a free port.
- ``browser``: session-scoped Chromium (Debian's ``/usr/bin/chromium``, no Playwright download).
- ``page``: a fresh page per test that records what the widgets show (see ``HISTORY_SCRIPT``)
  and collects page errors coming from widget code; it saves a screenshot at teardown.
- ``notebook``: writes a notebook into the server root and opens it in an app.

Mark every test module here with ``pytestmark = pytest.mark.browser``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("DW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
APPS = ("lab", "notebook")

# Installed before any page script: records every distinct text shown by the status elements
# of the widgets, with a timestamp, and marks printed by cells ("DW-MARK:<name>"), so tests can
# assert on the history after the fact (a fast job cannot finish between two assertions).
HISTORY_SCRIPT = """
(() => {
  const watched = ["dw-counts", "dw-phase"];
  const history = Object.fromEntries(watched.map((id) => [id, []]));
  const marks = {};
  window.__dw = { history, marks };
  const record = () => {
    const now = Date.now();
    for (const id of watched) {
      for (const node of document.querySelectorAll(`[data-testid="${id}"]`)) {
        const text = node.textContent;
        const list = history[id];
        if (!list.length || list[list.length - 1].text !== text) list.push({ text, t: now });
      }
    }
    for (const out of document.querySelectorAll(".jp-OutputArea-output")) {
      for (const m of out.textContent.matchAll(/DW-MARK:([\\w-]+)/g)) {
        if (!(m[1] in marks)) marks[m[1]] = now;
      }
    }
  };
  const start = () => {
    new MutationObserver(record).observe(document.documentElement, {
      subtree: true, childList: true, characterData: true,
    });
    record();
  };
  if (document.documentElement) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class JupyterServer:
    url: str
    token: str
    root: Path
    log: Path

    def app_url(self, app: str, path: str) -> str:
        if app == "lab":
            return f"{self.url}/lab/tree/{path}?reset&token={self.token}"
        if app == "notebook":
            return f"{self.url}/notebooks/{path}?token={self.token}"
        raise ValueError(app)


@pytest.fixture(scope="package")  # stopped once the browser tests are done
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """JupyterLab 4 (with Notebook 7 on the same server), isolated from the user's config."""
    with serve_jupyter(tmp_path_factory.mktemp("jupyter")) as server:
        yield server


@contextmanager
def serve_jupyter(
    base: Path, args: tuple[str, ...] = (), env_extra: dict[str, str] | None = None
) -> Iterator[JupyterServer]:
    """Run a JupyterLab server with its config, runtime and settings dirs under ``base``."""
    root, config, runtime, workspaces, ipython, settings = (
        base / name for name in ("root", "config", "runtime", "workspaces", "ipython", "settings")
    )
    for d in (root, config, runtime, workspaces, ipython, settings):
        d.mkdir()
    # no "receive Jupyter news?" toast over the screenshots
    news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text('{"fetchNews": "false", "checkForUpdates": false}')
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "IPYTHONDIR": str(ipython),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
    }
    env.pop("DOUBLEWORD_API_KEY", None)
    env.update(env_extra or {})
    log = base / "server.log"
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--LabApp.workspaces_dir={workspaces}", "--ServerApp.allow_root=True",
        "--LabApp.expose_app_in_browser=True", "--JupyterNotebookApp.expose_app_in_browser=True",
        *args,
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter exited early:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield JupyterServer(url=url, token=token, root=root, log=log)
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """End a server process started by a test: politely, then for sure."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="package")  # Playwright's loop must not outlive the browser tests
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class WidgetPage:
    """A page plus what it recorded: widget page errors and the status-text history."""

    page: Any
    errors: list[str] = field(default_factory=list)
    screenshots: Path | None = None

    def history(self, testid: str = "dw-counts") -> list[str]:
        return [e["text"] for e in self.page.evaluate(f"() => window.__dw.history['{testid}']")]

    def timed_history(self, testid: str = "dw-counts") -> list[dict[str, Any]]:
        return self.page.evaluate(f"() => window.__dw.history['{testid}']")

    def mark_time(self, name: str) -> int | None:
        return self.page.evaluate(f"() => window.__dw.marks['{name}'] ?? null")

    def wait_for_mark(self, name: str, timeout: float = 30) -> int:
        self.page.wait_for_function(f"() => '{name}' in window.__dw.marks", timeout=timeout * 1000)
        return self.mark_time(name)

    def screenshot(self, name: str, selector: str | None = None) -> Path:
        """Save the page (or the first element matching ``selector``) under the test's tmp dir."""
        assert self.screenshots is not None
        path = self.screenshots / f"{name}.png"
        if selector is None:
            self.page.screenshot(path=str(path), full_page=True)
            return path
        for tries_left in reversed(range(3)):
            try:
                self.page.locator(selector).first.screenshot(path=str(path))
                return path
            except Exception as exc:  # a newer copy of the output replaced it: take that one
                if tries_left == 0 or "not attached" not in str(exc):
                    raise
        return path


@pytest.fixture
def page(browser: Any, tmp_path: Path) -> Iterator[WidgetPage]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(HISTORY_SCRIPT)
    pw_page = context.new_page()
    wp = WidgetPage(page=pw_page, screenshots=tmp_path)

    def on_error(error: Any) -> None:
        stack = getattr(error, "stack", "") or ""
        if "blob:" in stack:  # anywidget loads our _esm from a blob: URL
            wp.errors.append(f"{error.message}\n{stack}")

    pw_page.on("pageerror", on_error)
    yield wp
    try:
        wp.screenshot("final")
    finally:
        context.close()


def write_notebook(root: Path, name: str, cells: list[str]) -> str:
    """Write a code-cell notebook into the server root; returns its path relative to root."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = root / name
    nbformat.write(nb, path)
    return name


def open_notebook(page: WidgetPage, server: JupyterServer, path: str, app: str) -> None:
    """Open ``path`` in ``app`` and wait until its kernel is idle and run-all exists."""
    page.page.goto(server.app_url(app, path))
    page.page.wait_for_function(
        """() => {
          const app = window.jupyterapp;
          if (!app || !app.commands.hasCommand('notebook:run-all-cells')) return false;
          const w = app.shell.currentWidget;
          const kernel = w && w.sessionContext && w.sessionContext.session
            && w.sessionContext.session.kernel;
          return Boolean(kernel) && kernel.status === 'idle';
        }""",
        timeout=60_000,
    )


def use_dark_theme(page: WidgetPage) -> None:
    """Switch JupyterLab / Notebook 7 to the dark theme (to look at the widgets in both)."""
    page.page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme',"
        " { theme: 'JupyterLab Dark' })"
    )
    page.page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")


def run_all(page: WidgetPage) -> None:
    """Start every cell; does not wait (the command's promise resolves only at the end)."""
    page.page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")


# The contrast of every text inside the elements matching a selector against the background
# behind it, and of each 10 px bar's fill against its track (WCAG relative luminance ratios).
CONTRAST_JS = """
(selector) => {
  // any CSS colour (rgb(), color(srgb ...) from color-mix) read back through a canvas
  const ctx = document.createElement('canvas').getContext('2d', { willReadFrequently: true });
  const parse = (c) => {
    ctx.clearRect(0, 0, 1, 1);
    ctx.fillStyle = '#000';
    ctx.fillStyle = c;
    ctx.fillRect(0, 0, 1, 1);
    const [r, g, b, a] = ctx.getImageData(0, 0, 1, 1).data;
    return { r, g, b, a: a / 255 };
  };
  const lum = ({ r, g, b }) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const ratio = (a, b) => {
    const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  const background = (el) => {
    for (let n = el; n; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  const roots = [...document.querySelectorAll(selector)];
  const low = [];
  let checked = 0;
  for (const root of roots) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
      const el = t.parentElement;
      if (!t.textContent.trim() || !el.getClientRects().length) continue;
      const style = getComputedStyle(el);
      if (style.visibility === 'hidden' || Number(style.opacity) === 0) continue;
      const r = ratio(parse(style.color), background(el));
      checked += 1;
      if (r < 3) low.push(`${r.toFixed(2)} "${t.textContent.trim().slice(0, 40)}"`);
    }
  }
  const bars = [];
  for (const root of roots) {
    for (const track of root.querySelectorAll('[style*="height:10px"]')) {
      const fill = track.firstElementChild;
      if (!fill || fill.getBoundingClientRect().width < 2) continue;
      bars.push(ratio(background(fill), background(track)));
    }
  }
  return { cards: roots.length, checked, low, bars };
}
"""


def contrast(page: WidgetPage, selector: str) -> dict[str, Any]:
    """Contrast figures of the texts and bars inside ``selector``: ``low`` lists texts under
    3:1 against what is behind them (see ``CONTRAST_JS``)."""
    return page.page.evaluate(CONTRAST_JS, selector)
