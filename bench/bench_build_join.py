"""Build and join speed against the usual ways of doing it, measured in one run.

    python bench/bench_build_join.py            # 200,000 rows (about 1-2 minutes)
    python bench/bench_build_join.py --rows 20000

Data: two text columns (~300 bytes of text per row, with quotes, newlines, backslashes and
non-ASCII), a chat body with a system prompt and a JSON-schema ``response_format``. The output file
is written here in the documented batch-output format (shuffled, as servers complete out of order,
with some error lines). Every ratio is baseline time / our time in the same run; memory is the
peak RSS growth of a fresh subprocess doing only that step, against the JSONL size.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dw_notebook.jsonl.requests import build_requests, make_custom_ids  # noqa: E402
from dw_notebook.jsonl.results import join_results  # noqa: E402

MODEL = "Qwen/Qwen3-14B-FP8"
URL = "/v1/chat/completions"
SYSTEM = (
    "You are a careful annotator of product reviews. Read the review and its title, decide the "
    "overall sentiment, and rate your confidence between 0 and 1."
)
TEMPLATE = "Title: {title}\nReview: {review}"
SCHEMA = {
    "type": "object",
    "properties": {
        "sentiment": {"type": "string", "enum": ["positive", "negative", "neutral"]},
        "confidence": {"type": "number"},
    },
    "required": ["sentiment", "confidence"],
    "additionalProperties": False,
}
RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "Review", "strict": True, "schema": SCHEMA},
}
WORDS = np.array(
    'the a phone battery screen great terrible "okay" it\'s works broke after two weeks '
    "would buy again café naïve 😀 back\\slash tab\there line\nbreak price quality".split(" ")
)


def make_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    words = rng.choice(WORDS, size=(rows, 48))
    review = [" ".join(w) for w in words[:, :40]]
    title = [" ".join(w) for w in words[:, 40:]]
    index = pd.Index([f"rev-{i:07d}" for i in range(rows)], name="review_id")
    return pd.DataFrame({"title": title, "review": review}, index=index)


def make_output(custom_ids: list[str], seed: int = 1) -> tuple[bytes, bytes]:
    """Output and error files in the documented format, in a shuffled (completion) order."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(custom_ids))
    labels = ["positive", "negative", "neutral"]
    out, err = [], []
    for k, i in enumerate(order.tolist()):
        cid = custom_ids[i]
        if k % 100 == 99:
            err.append(
                orjson.dumps(
                    {
                        "id": f"batch_req_{k}",
                        "custom_id": cid,
                        "response": None,
                        "error": {"code": "batch_expired", "message": "This request expired."},
                    }
                )
            )
            continue
        answer = orjson.dumps({"sentiment": labels[i % 3], "confidence": (i % 97) / 97}).decode()
        out.append(
            orjson.dumps(
                {
                    "id": f"batch_req_{k}",
                    "custom_id": cid,
                    "response": {
                        "status_code": 200,
                        "request_id": f"req_{k}",
                        "body": {
                            "id": f"chatcmpl-{k}",
                            "object": "chat.completion",
                            "created": 1767225600,
                            "model": MODEL,
                            "choices": [
                                {
                                    "index": 0,
                                    "message": {"role": "assistant", "content": answer},
                                    "finish_reason": "stop",
                                }
                            ],
                            "usage": {
                                "prompt_tokens": 120 + i % 50,
                                "completion_tokens": 12,
                                "total_tokens": 132 + i % 50,
                            },
                        },
                    },
                    "error": None,
                }
            )
        )
    return b"\n".join(out) + b"\n", b"\n".join(err) + b"\n"


# --- build ----------------------------------------------------------------------------------


def build_ours(df: pd.DataFrame) -> bytes:
    return build_requests(
        df,
        model=MODEL,
        prompt=TEMPLATE,
        system=SYSTEM,
        response_format=RESPONSE_FORMAT,
        temperature=0,
    ).data


def build_cookbook(df: pd.DataFrame, path: str) -> None:
    """The loop from the cookbooks: iterrows, a dict per row, json.dumps, one write per line."""
    with open(path, "w", encoding="utf-8") as f:
        for idx, row in df.iterrows():
            request = {
                "custom_id": str(idx),
                "method": "POST",
                "url": URL,
                "body": {
                    "model": MODEL,
                    "messages": [
                        {"role": "system", "content": SYSTEM},
                        {
                            "role": "user",
                            "content": f"Title: {row['title']}\nReview: {row['review']}",
                        },
                    ],
                    "temperature": 0,
                    "response_format": RESPONSE_FORMAT,
                },
            }
            f.write(json.dumps(request) + "\n")


def build_orjson_rows(df: pd.DataFrame) -> bytes:
    """A fast per-row baseline: one orjson.dumps of the request dict per row."""
    lines = []
    for idx, title, review in zip(
        df.index.tolist(), df["title"].tolist(), df["review"].tolist(), strict=True
    ):
        lines.append(
            orjson.dumps(
                {
                    "custom_id": idx,
                    "method": "POST",
                    "url": URL,
                    "body": {
                        "model": MODEL,
                        "messages": [
                            {"role": "system", "content": SYSTEM},
                            {"role": "user", "content": f"Title: {title}\nReview: {review}"},
                        ],
                        "temperature": 0,
                        "response_format": RESPONSE_FORMAT,
                    },
                }
            )
        )
    lines.append(b"")
    return b"\n".join(lines)


# --- join -----------------------------------------------------------------------------------


def join_ours(df: pd.DataFrame, out: bytes, err: bytes) -> pd.DataFrame:
    return join_results(df, make_custom_ids(df.index), outputs=[out], errors=[err], schema=SCHEMA)


def join_loads_loop(df: pd.DataFrame, out: bytes, err: bytes) -> pd.DataFrame:
    """json.loads per line into a dict by custom_id, mapped onto the index."""
    sentiment, status = {}, {}
    for data in (out, err):
        for line in data.splitlines():
            if not line:
                continue
            obj = json.loads(line)
            cid = obj["custom_id"]
            if obj.get("response") and obj["response"]["status_code"] == 200:
                content = obj["response"]["body"]["choices"][0]["message"]["content"]
                sentiment[cid] = json.loads(content)["sentiment"]
                status[cid] = "ok"
            else:
                status[cid] = "failed"
    result = df.copy()
    result["sentiment"] = df.index.map(sentiment)
    result["status"] = df.index.map(status)
    return result


def join_read_json(df: pd.DataFrame, out: bytes, err: bytes) -> pd.DataFrame:
    """pd.read_json(lines=True) + json_normalize, then parse the answer column."""
    import io

    raw = pd.read_json(io.BytesIO(out + err), lines=True, dtype=False)
    flat = pd.json_normalize(raw.to_dict("records"))
    content = flat["response.body.choices"].map(
        lambda c: c[0]["message"]["content"] if isinstance(c, list) else None
    )
    flat["sentiment"] = content.map(
        lambda c: json.loads(c)["sentiment"] if isinstance(c, str) else None
    )
    flat = flat.set_index("custom_id")
    result = df.copy()
    result["sentiment"] = flat["sentiment"].reindex(df.index).to_numpy()
    return result


# --- harness --------------------------------------------------------------------------------


def timed(fn, *args, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - start)
    return best


_MEM_CHILD = r"""
import gc, sys, resource
sys.path.insert(0, {root!r})
from bench.bench_build_join import make_frame, make_output, build_ours, join_ours
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
df = make_frame({rows})
step = {step!r}
if step == "join":
    out, err = make_output(list(df.index))
gc.collect()
try:
    open("/proc/self/clear_refs", "w").write("5")  # reset the peak to the current RSS
except OSError:
    pass
base = rss()
if step == "build":
    result = build_ours(df)
    size = len(result)
else:
    result = join_ours(df, out, err)
    size = len(out) + len(err)
print(hwm() - base, size)
"""


def peak_growth(step: str, rows: int) -> tuple[int, int]:
    code = _MEM_CHILD.format(root=str(ROOT), rows=rows, step=step)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    growth, size = done.stdout.split()
    return int(growth), int(size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    rows = args.rows

    df = make_frame(rows)
    ours = build_ours(df)
    reference = build_orjson_rows(df)
    for a, b in zip(ours.splitlines()[:1000], reference.splitlines()[:1000], strict=True):
        assert orjson.loads(a) == orjson.loads(b), "build output differs from the baseline"
    assert ours.count(b"\n") == rows
    mb = len(ours) / 1e6
    del reference
    print(f"rows: {rows:,}; request JSONL: {mb:.1f} MB")

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        t_ours = timed(build_ours, df, repeat=3)
        t_orjson = timed(build_orjson_rows, df)
        t_cook = timed(build_cookbook, df, os.path.join(tmp, "cookbook.jsonl"))
    results.append(("build: cookbook loop / ours", t_cook, t_ours, 40))
    results.append(("build: per-row orjson / ours", t_orjson, t_ours, 2))

    out, err = make_output(list(df.index))
    check = join_ours(df, out, err)
    assert check["status"].value_counts()["ok"] == rows - rows // 100
    expected = join_loads_loop(df, out, err)
    assert (
        check["sentiment"].astype(object).to_numpy()
        == expected["sentiment"].astype(object).to_numpy()
    ).sum() == rows - rows // 100
    print(f"output JSONL: {(len(out) + len(err)) / 1e6:.1f} MB")
    t_join = timed(join_ours, df, out, err, repeat=3)
    t_loop = timed(join_loads_loop, df, out, err)
    t_read = timed(join_read_json, df, out, err)
    results.append(("join: json.loads loop / ours", t_loop, t_join, 3))
    results.append(("join: read_json+json_normalize / ours", t_read, t_join, 8))

    print(f"\n{'comparison':42} {'baseline':>9} {'ours':>8} {'ratio':>7} {'target':>7}")
    for name, base, mine, target in results:
        ratio = base / mine
        mark = "ok" if ratio >= target else "MISS"
        print(f"{name:42} {base:8.2f}s {mine:7.3f}s {ratio:6.1f}x {target:>5}x  {mark}")

    if not args.skip_memory:
        print()
        for step in ("build", "join"):
            growth, size = peak_growth(step, rows)
            ratio = growth / size
            mark = "ok" if ratio <= 2 else "MISS"
            print(
                f"peak RSS growth, {step}: {growth / 1e6:7.1f} MB = {ratio:.2f}x the JSONL "
                f"({size / 1e6:.1f} MB), target <= 2x  {mark}"
            )


if __name__ == "__main__":
    main()
