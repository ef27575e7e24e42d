"""The README's first command starts JupyterLab with a clean log.

Node resolves a module's type from the nearest package.json above it; with ``.venv/`` inside the
repository that is the repository's own, so a root ``"type": "module"`` made Node load
JupyterLab's bundled ``yarn.js`` as an ES module: a screen of minified JS and
``Dynamic require of "util" is not supported`` at start and on the first ``/lab`` load.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
import urllib.request

import pytest

from .conftest import REPO, _free_port

pytestmark = pytest.mark.browser

BAD = ("Error", "Traceback", "Dynamic require")


def _wait_for_status(proc: subprocess.Popen, url: str, log) -> None:
    deadline = time.monotonic() + 240  # setup.sh runs first; a slow first run installs things
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"quickstart exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"JupyterLab did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)


def test_quickstart_starts_jupyterlab_with_a_clean_log(tmp_path):
    port, token = _free_port(), secrets.token_hex(16)
    config, runtime, ipython = tmp_path / "config", tmp_path / "runtime", tmp_path / "ipython"
    for d in (config, runtime, ipython):
        d.mkdir()
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "IPYTHONDIR": str(ipython),
    }
    env.pop("DOUBLEWORD_API_KEY", None)
    log = tmp_path / "quickstart.log"
    cmd = [
        "bash", str(REPO / "scripts" / "quickstart.sh"), "--no-browser",
        f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_for_status(proc, f"{url}/api/status?token={token}", log)
        with urllib.request.urlopen(f"{url}/lab?token={token}", timeout=60) as r:
            assert r.status == 200
        time.sleep(1.0)  # the first /lab load is where JupyterLab asked yarn for its config
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = log.read_text(errors="replace")
    bad = [line for line in text.splitlines() if any(word in line for word in BAD)]
    assert not bad, "\n".join(line[:300] for line in bad)
    long = [line for line in text.splitlines() if len(line) > 2000]
    assert not long, f"{len(long)} very long lines (minified JS?): {long[0][:200]}"
