"""What checking a cached result file on read (its CRC-32) costs, beside the join it feeds.

    python bench/bench_cache_digest.py [--rows 200000]

Writes one output file of ``rows`` answered chat requests into a result cache, then times a
read from the cache with the check (``ResultCache.get``), the same read without it (the file's
bytes only), a sha256 of the same bytes for comparison, and parsing and joining those bytes
onto the frame (``join_results``): the check is the difference of the first two.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

import orjson
import pandas as pd

from dw_notebook.job.cache import ResultCache
from dw_notebook.job.registry import Registry
from dw_notebook.jsonl.results import join_results


def output_file(n: int) -> bytes:
    lines = []
    for i in range(n):
        body = {
            "id": f"chatcmpl-{i}", "object": "chat.completion", "model": "mock",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": f"answer {i % 3} " * 8}}],
            "usage": {"prompt_tokens": 40, "completion_tokens": 16, "total_tokens": 56},
        }  # fmt: skip
        line = {"id": f"r-{i}", "custom_id": f"row-{i}", "error": None,
                "response": {"status_code": 200, "request_id": f"q-{i}", "body": body}}  # fmt: skip
        lines.append(orjson.dumps(line))
    return b"\n".join(lines) + b"\n"


def best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    opts = parser.parse_args()
    data = output_file(opts.rows)
    with tempfile.TemporaryDirectory() as tmp:
        cache = ResultCache(Registry(Path(tmp) / "r.sqlite3"), "bench", Path(tmp) / "results")
        cache.put("file-1", data)
        blob = next((Path(tmp) / "results").glob("*.jsonl"))
        assert cache.get("file-1") == data
        checked = best(lambda: cache.get("file-1"))
        plain = best(blob.read_bytes)
        sha = best(lambda: hashlib.sha256(data).digest())
        df = pd.DataFrame({"x": range(opts.rows)}, index=[f"row-{i}" for i in range(opts.rows)])
        ids = list(df.index)
        joined = best(lambda: join_results(df, ids, outputs=[data]), repeat=3)
    mb = len(data) / 1e6
    print(f"{opts.rows:,} rows, {mb:.0f} MB output file")
    print(f"read from the cache, checked: {checked * 1000:.0f} ms")
    print(f"read of the same bytes, unchecked:   {plain * 1000:.0f} ms")
    check = checked - plain
    print(
        f"the check: {check * 1000:.0f} ms ({mb / max(check, 1e-9) / 1000:.2f} GB/s); parse "
        f"and join of those bytes: {joined * 1000:.0f} ms (the check is {check / joined:.0%})"
    )
    print(f"a sha256 of the same bytes instead: {sha * 1000:.0f} ms")


if __name__ == "__main__":
    main()
