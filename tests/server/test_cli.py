"""``serve`` command: argument wiring, printed base URL and token, clean shutdown."""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from server_support import wait_until

from dw_notebook.server.cli import add_serve_arguments, run_serve

REPO = Path(__file__).resolve().parents[2]


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    return parser.parse_args(argv)


def test_serve_arguments_have_sensible_defaults_and_parse_options():
    args = _parse([])
    assert (args.dialect, args.backend, args.host, args.port) == (
        "doubleword",
        "mock",
        "127.0.0.1",
        8765,
    )
    args = _parse(
        [
            "--rate",
            "none",
            "--backend-option",
            "latency=0.5",
            "--backend-option",
            "dimension=4",
            "--dialect",
            "openai",
        ]
    )
    assert args.rate is None and dict(args.backend_option) == {"latency": 0.5, "dimension": 4}


def test_serve_starts_with_the_faults_it_is_given(capsys, tmp_path):
    args = _parse(
        ["--port", "0", "--fault", "rate_limit:seconds=600,retry_after=60,path=/v1/models",
         "--fault", "read_outage:seconds=600"]
    )  # fmt: skip
    assert args.fault[0] == {
        "kind": "rate_limit", "seconds": 600, "retry_after": 60, "path": "/v1/models"
    }  # fmt: skip
    with pytest.raises(SystemExit):
        _parse(["--fault", "meteor:count=1"])
    stop = threading.Event()
    thread = threading.Thread(target=lambda: run_serve(args, stop))
    thread.start()
    try:
        out = wait_until(lambda: "token:" in (text := capsys.readouterr().out) and text)
        url = re.search(r"base URL: (\S+)", out).group(1)
        token = re.search(r"token:\s+(\S+)", out).group(1)
        headers = {"Authorization": f"Bearer {token}"}
        resp = httpx.get(url + "/models", headers=headers)
        assert resp.status_code == 429 and resp.headers["Retry-After"] == "60"
        assert httpx.get(url + "/files", headers=headers).status_code == 200
    finally:
        stop.set()
        thread.join(10)


def test_serve_paces_automatically_and_keeps_files_unless_given_a_retention():
    args = _parse([])
    assert args.rate == "auto" and args.retention is None
    assert _parse(["--retention", "7d"]).retention == 7 * 86400
    with pytest.raises(SystemExit):
        _parse(["--retention", "-1h"])


def test_run_serve_prints_a_working_base_url_and_token(capsys, tmp_path):
    args = _parse(["--port", "0", "--dialect", "openai", "--data-dir", str(tmp_path / "d")])
    stop = threading.Event()
    result = {}
    thread = threading.Thread(target=lambda: result.update(rc=run_serve(args, stop)))
    thread.start()
    try:
        out = wait_until(lambda: "token:" in (text := capsys.readouterr().out) and text)
        url = re.search(r"base URL: (\S+)", out).group(1)
        token = re.search(r"token:\s+(\S+)", out).group(1)
        assert "simulated" in out
        resp = httpx.get(url + "/models", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200
    finally:
        stop.set()
        thread.join(10)
    assert result == {"rc": 0}
    assert (tmp_path / "d" / "state.sqlite3").exists()


def test_serve_process_stops_cleanly_on_sigterm():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dw_notebook.server.cli", "--port", "0", "--rate", "none"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    try:
        lines = [proc.stdout.readline() for _ in range(4)]
        url = next(x for x in lines if x.startswith("base URL:")).split()[-1]
        token = next(x for x in lines if x.startswith("token:")).split()[-1]
        assert httpx.get(url + "/batches", headers={"Authorization": f"Bearer {token}"}).is_success
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
