"""Benchmark: autobatch's overhead per call against the same requests sent as one prepared batch.

Run from the repo root: ``python bench/bench_autobatch.py [--calls N] [--repeat R]``.

Both sides talk to the same local server (mock backend, unlimited rate), started in another
process as a real service would be (``--in-process`` runs it on a thread of this process, where
it competes with the client for the GIL), and poll every 0.05 s. The prepared side uploads one
JSONL file of N chat requests, creates the batch, polls it, downloads the output and parses
every line (orjson); the autobatch side makes N ``client.chat.completions.create`` calls in one
``asyncio.gather`` (batches of 1,000, the default) and gets N ``ChatCompletion`` objects.
Prints the median wall time of each, their ratio, and the overhead per call.
Target: autobatch ≤ 2× the prepared batch at 10,000 calls.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dw_notebook as dw  # noqa: E402
from dw_notebook.client import BatchClient  # noqa: E402
from dw_notebook.server import start_server  # noqa: E402

MODEL = "Qwen/Qwen3.5-9B"
POLL = 0.05
TERMINAL = {"completed", "failed", "expired", "cancelled"}


class Remote:
    """``dw-notebook serve`` in a subprocess."""

    def __init__(self, port: int) -> None:
        self.token = "bench-token"
        self.base_url = f"http://127.0.0.1:{port}/v1"
        cmd = [sys.executable, "-m", "dw_notebook", "serve", "--port", str(port),
               "--token", self.token, "--rate", "none"]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                httpx.get(self.base_url + "/models", timeout=1,
                          headers={"Authorization": f"Bearer {self.token}"})  # fmt: skip
                return
            except httpx.TransportError:
                time.sleep(0.05)
        self.proc.kill()
        raise RuntimeError("server did not start")

    def __enter__(self) -> Remote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def messages(i: int) -> list[dict]:
    return [
        {"role": "system", "content": "Label the sentiment of the review."},
        {"role": "user", "content": f"Review number {i}: the product was fine, mostly."},
    ]


def prepared(srv, n: int) -> float:
    """Seconds from upload to every answer parsed, for one prepared file of ``n`` requests."""
    lines = [
        orjson.dumps({"custom_id": f"row-{i}", "method": "POST", "url": "/v1/chat/completions",
                      "body": {"model": MODEL, "messages": messages(i)}})
        for i in range(n)
    ]  # fmt: skip
    data = b"\n".join(lines) + b"\n"
    client = BatchClient(srv.base_url, srv.token)
    started = time.perf_counter()
    file_id = client.upload_file(data, filename="bench.jsonl")["id"]
    batch = client.create_batch(file_id, "/v1/chat/completions", "24h")
    while batch["status"] not in TERMINAL:
        time.sleep(POLL)
        batch = client.get_batch(batch["id"])
    out = client.file_content(batch["output_file_id"]).data
    answers = {}
    for raw in out.splitlines():
        line = orjson.loads(raw)
        answers[line["custom_id"]] = line["response"]["body"]
    seconds = time.perf_counter() - started
    client.close()
    assert len(answers) == n, len(answers)
    return seconds


def autobatched(srv, n: int) -> float:
    """Seconds from the first call to every ``ChatCompletion`` returned, for ``n`` calls."""
    client = dw.autobatch(poll_interval=POLL, api_key=srv.token, base_url=srv.base_url)

    async def run() -> list:
        return await asyncio.gather(
            *(client.chat.completions.create(model=MODEL, messages=messages(i)) for i in range(n))
        )

    started = time.perf_counter()
    replies = asyncio.run(run())
    seconds = time.perf_counter() - started
    client.close()
    assert len(replies) == n and all(r.choices for r in replies)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--port", type=int, default=18766)
    parser.add_argument("--in-process", action="store_true")
    args = parser.parse_args()
    os.environ["DW_NOTEBOOK_HOME"] = tempfile.mkdtemp(prefix="dw-bench-")
    base, auto = [], []
    if args.in_process:
        server = start_server(rate=None, validation_delay=0, finalize_delay=0)
    else:
        server = Remote(args.port)
    with server as srv:
        for _ in range(args.repeat):
            base.append(prepared(srv, args.calls))
            auto.append(autobatched(srv, args.calls))
    b, a = statistics.median(base), statistics.median(auto)
    print(f"prepared batch: {args.calls:,} requests in {b:.2f} s (median of {args.repeat})")
    print(f"autobatch:      {args.calls:,} calls in {a:.2f} s (median of {args.repeat})")
    print(f"ratio {a / b:.2f}x; overhead per call {(a - b) / args.calls * 1e6:,.0f} µs")
    return 0 if a <= 2 * b else 1


if __name__ == "__main__":
    raise SystemExit(main())
