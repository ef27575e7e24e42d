"""Upload memory: a 200 MB batch file streamed to the local server over real HTTP.

Measures this process's RSS growth during ``BatchClient.upload_file`` (the server runs in another
process, so only the client side is counted), against a baseline that reads the upload into one
in-memory multipart body first (what ``httpx.post(content=...)`` of a prebuilt body costs).
Target: growth < 64 MB. Run: ``.venv/bin/python bench/bench_upload.py [--mb 200]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from dw_notebook.client import BatchClient


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class PeakRss:
    """Samples RSS every few ms on a thread; ``peak`` is the highest seen."""

    def __init__(self) -> None:
        self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.002)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def make_jsonl(megabytes: int) -> bytes:
    line = (
        b'{"custom_id":"row-%08d","method":"POST","url":"/v1/chat/completions","body":'
        b'{"model":"mock","messages":[{"role":"user","content":"' + b"x" * 3900 + b'"}]}}\n'
    )
    n = megabytes * 1_000_000 // (len(line) + 1)
    return b"".join(line % i for i in range(n))


def start_server(port: int, token: str, *options: str) -> subprocess.Popen:
    """``dw-notebook serve`` at an unlimited rate in another process (``options`` added)."""
    cmd = [sys.executable, "-m", "dw_notebook", "serve", "--port", str(port), "--token", token,
           "--rate", "none", *options]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(400):
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/models",
                      headers={"Authorization": f"Bearer {token}"}, timeout=1)  # fmt: skip
            return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


def run_in_child(module: str, call: str, env: dict[str, str]) -> dict:
    """``module.call`` (a Python expression) in a fresh interpreter, so its peak RSS is its
    own; its last line of output is the JSON it returns."""
    here = str(Path(__file__).parent)
    code = f"import json, sys; sys.path.insert(0, {here!r}); import {module} as b; " \
           f"print(json.dumps(b.{call}))"  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env})  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"{module}.{call} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=195)
    parser.add_argument("--port", type=int, default=18765)
    args = parser.parse_args()
    token = "bench-token"
    server = start_server(args.port, token)
    try:
        data = make_jsonl(args.mb)
        client = BatchClient(f"http://127.0.0.1:{args.port}/v1", token)
        before = rss_mb()
        with PeakRss() as peak:
            t0 = time.perf_counter()
            uploaded = client.upload_file(data)
            streamed_s = time.perf_counter() - t0
        growth = peak.peak - before
        assert uploaded["bytes"] == len(data), uploaded

        # baseline: the whole multipart body built in memory before sending
        before_naive = rss_mb()
        with PeakRss() as naive_peak:
            request = httpx.Request("POST", f"http://127.0.0.1:{args.port}/v1/files",
                                    files={"file": ("b.jsonl", data)}, data={"purpose": "batch"},
                                    headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            body = request.read()
            httpx.post(request.url, content=body, headers=request.headers, timeout=None)
            del body, request
        naive_growth = naive_peak.peak - before_naive
    finally:
        server.terminate()
        server.wait(10)
    size_mb = len(data) / 1e6
    print(
        f"upload {size_mb:.0f} MB streamed: RSS growth {growth:.1f} MB "
        f"({size_mb / streamed_s:.0f} MB/s); target < 64 MB: {'PASS' if growth < 64 else 'FAIL'}"
    )
    print(f"baseline (body built in memory): RSS growth {naive_growth:.1f} MB; "
          f"ratio baseline/streamed = {naive_growth / max(growth, 0.1):.1f}x")  # fmt: skip
    return 0 if growth < 64 else 1


if __name__ == "__main__":
    raise SystemExit(main())
