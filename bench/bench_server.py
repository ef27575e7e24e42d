"""Benchmark: a 50,000-request batch on the local server, mock backend, unlimited rate.

Run from the repo root: ``python bench/bench_server.py [--requests N] [--dialect openai]``.
More than 50,000 requests are split into files of 50,000, one batch each, all created at once.
Prints the seconds from batch creation to ``completed`` and the requests per second.
Target on a 2-core machine: 50,000 requests in at most 15 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dw_notebook.server import start_server  # noqa: E402

TERMINAL = {"completed", "failed", "expired", "cancelled"}
PER_FILE = 50_000  # requests per file at most, as the API allows


def build_file(n: int) -> bytes:
    schema = {
        "type": "object",
        "properties": {"label": {"enum": ["positive", "negative", "neutral"]}},
        "required": ["label"],
    }
    lines = []
    for i in range(n):
        body = {
            "model": "mock",
            "messages": [
                {"role": "system", "content": "Label the sentiment of the review."},
                {"role": "user", "content": f"Review number {i}: the product was fine, mostly."},
            ],
            "response_format": {"type": "json_schema", "json_schema": {"schema": schema}},
        }
        line = {
            "custom_id": f"row-{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": body,
        }
        lines.append(orjson.dumps(line))
    return b"\n".join(lines) + b"\n"


def thread_cpu(native_id: int | None) -> float:
    """CPU seconds a thread of this process has used (Linux; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--dialect", default="doubleword", choices=["doubleword", "openai"])
    args = parser.parse_args()
    sizes = [min(PER_FILE, args.requests - i) for i in range(0, args.requests, PER_FILE)]
    files = [build_file(n) for n in sizes]
    with start_server(dialect=args.dialect, rate=None, validation_delay=0, finalize_delay=0) as srv:
        headers = {"Authorization": f"Bearer {srv.token}"}
        with httpx.Client(base_url=srv.base_url, headers=headers, timeout=120) as http:
            ids = []
            for data in files:
                up = http.post(
                    "/files", files={"file": ("bench.jsonl", data)}, data={"purpose": "batch"}
                )
                up.raise_for_status()
                ids.append(up.json()["id"])
            runner = srv.runner._thread.native_id
            cpu = thread_cpu(runner)
            started = time.perf_counter()
            batches = []
            for file_id in ids:
                created = http.post(
                    "/batches",
                    json={
                        "input_file_id": file_id,
                        "endpoint": "/v1/chat/completions",
                        "completion_window": "24h",
                    },
                )
                created.raise_for_status()
                batches.append(created.json())
            phases = {batches[0]["status"]: 0.0}
            while any(b["status"] not in TERMINAL for b in batches):
                time.sleep(0.05)
                batches = [http.get(f"/batches/{b['id']}").json() for b in batches]
                phases.setdefault(batches[-1]["status"], time.perf_counter() - started)
            seconds = time.perf_counter() - started
            cpu = thread_cpu(runner) - cpu
            completed = sum(b["request_counts"]["completed"] for b in batches)
            failed = sum(b["request_counts"]["failed"] for b in batches)
            lines = sum(
                http.get(f"/files/{b['output_file_id']}/content").content.count(b"\n")
                for b in batches
            )
    statuses = sorted({b["status"] for b in batches})
    print(f"status={','.join(statuses)} completed={completed} failed={failed} output_lines={lines}")
    print("last batch reached: " + ", ".join(f"{k} {v:.2f}s" for k, v in phases.items()))
    print(
        f"{args.requests} requests in {seconds:.2f} s = {args.requests / seconds:,.0f} requests/s"
    )
    print(f"runner thread CPU: {cpu:.2f} s (less sensitive to other load than the wall time)")
    ok = statuses == ["completed"] and completed == args.requests
    return 0 if ok and seconds <= 15 * len(files) else 1


if __name__ == "__main__":
    raise SystemExit(main())
