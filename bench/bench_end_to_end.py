"""End to end: a large frame through prepare -> submit -> complete -> join, two ways, one run.

Against ``dw-notebook serve --rate none`` in a separate process (so only the client is
measured), the same work is done:

- **dw-notebook**: ``dw.prepare``, ``dw.submit`` (split into files of at most 50,000 requests),
  ``job.join()``, then a second ``job.join()``;
- **the SDK way**, as the openai SDK's docs show it: a request dict per row written with
  ``json.dumps``, ``files.create`` one file at a time, ``batches.create``, polling
  ``batches.retrieve``, ``files.content``, and a ``json.loads`` join by custom_id.

Each way runs in a fresh subprocess that reports seconds per phase and its peak RSS. Both poll
every 0.5 s. Data: about 300 bytes of text per row and a JSON-schema ``response_format``.
Run: ``.venv/bin/python bench/bench_end_to_end.py [--rows 1000000]`` (``--rows 20000`` for a
quick look). dw-notebook's submit returns before its uploads; they are part of "complete" here,
and the line under the table says when the batches existed.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from bench_build_join import RESPONSE_FORMAT, SCHEMA
from bench_upload import run_in_child, start_server

HERE = Path(__file__).parent
POLL_S = 0.5
PROMPT = "Classify the sentiment of this review of a {product}: {review}"
SYSTEM = "You label customer reviews. Answer in JSON."


def frame(rows: int):  # type: ignore[no-untyped-def]
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    words = np.array("good bad fine slow quick broken lovely dull cheap sturdy loud quiet "
                     "battery screen colour price delivery support size fit".split())  # fmt: skip
    picks = rng.integers(0, len(words), size=(rows, 45))
    reviews = [" ".join(words[r]) for r in picks]  # about 300 bytes each
    products = rng.choice(["phone", "kettle", "jacket", "lamp"], size=rows)
    return pd.DataFrame({"review": reviews, "product": products},
                        index=pd.RangeIndex(rows, name="review_id"))  # fmt: skip


class Peak:
    """Peak RSS of this process, sampled on a thread."""

    def __init__(self) -> None:
        import threading

        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def rss_mb() -> float:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss_mb())
            time.sleep(0.005)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.peak, self.rss_mb())


def run_dw(rows: int, base_url: str, token: str) -> dict:
    import dw_notebook as dw

    df = frame(rows)
    base = Peak.rss_mb()
    peak = Peak()
    times, rss = {}, {}
    t = time.perf_counter()
    built = dw.prepare(df, PROMPT, model="mock", system=SYSTEM, response_format=SCHEMA)
    times["prepare"] = time.perf_counter() - t
    rss["prepare"] = peak.peak - base
    del built
    t = time.perf_counter()
    job = dw.submit(df, PROMPT, model="mock", system=SYSTEM, response_format=SCHEMA,
                    api_key=token, base_url=base_url, force=True)  # fmt: skip
    times["submit (cell returns)"] = time.perf_counter() - t
    rss["submit (cell returns)"] = peak.peak - base
    t = time.perf_counter()
    job.wait_submitted()  # part of "complete": the uploads and creates on the job's thread
    sent_s = time.perf_counter() - t
    while not job.refresh().done:
        time.sleep(POLL_S)
    times["complete"] = time.perf_counter() - t
    rss["complete"] = peak.peak - base
    t = time.perf_counter()
    out = job.join()
    times["join"] = time.perf_counter() - t
    rss["join"] = peak.peak - base
    t = time.perf_counter()
    out2 = job.join()
    times["second join"] = time.perf_counter() - t
    rss["second join"] = peak.peak - base
    assert (out["status"] == "ok").all() and len(out2) == rows, out["status"].value_counts()
    return {"times": times, "peak_mb": peak.stop() - base, "rss": rss,
            "batches": len(job.batch_ids), "sent_s": sent_s}  # fmt: skip


def run_sdk(rows: int, base_url: str, token: str) -> dict:
    import openai
    import pandas as pd

    df = frame(rows)
    base = Peak.rss_mb()
    peak = Peak()
    times = {}
    client = openai.OpenAI(api_key=token, base_url=base_url)
    tmp = Path(tempfile.mkdtemp(prefix="bench-sdk-"))
    t = time.perf_counter()
    paths, out, count = [], None, 0
    for i, (index, row) in enumerate(df.iterrows()):
        if i % 50_000 == 0:
            if out:
                out.close()
            paths.append(tmp / f"part-{len(paths)}.jsonl")
            out = open(paths[-1], "w")  # noqa: SIM115
        request = {
            "custom_id": f"row-{index}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {
                "model": "mock",
                "messages": [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": PROMPT.format(**row)},
                ],
                "response_format": RESPONSE_FORMAT,
            },
        }
        out.write(json.dumps(request) + "\n")
        count += 1
    out.close()
    times["prepare"] = time.perf_counter() - t
    t = time.perf_counter()
    batch_ids = []
    for path in paths:
        with open(path, "rb") as fh:
            uploaded = client.files.create(file=fh, purpose="batch")
        batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                      completion_window="24h")  # fmt: skip
        batch_ids.append(batch.id)
    times["submit (cell returns)"] = time.perf_counter() - t
    t = time.perf_counter()
    batches = []
    for batch_id in batch_ids:
        while (b := client.batches.retrieve(batch_id)).status not in (
            "completed", "failed", "expired", "cancelled"):  # fmt: skip
            time.sleep(POLL_S)
        batches.append(b)
    times["complete"] = time.perf_counter() - t

    def join() -> pd.DataFrame:
        answers = {}
        for b in batches:
            for line in client.files.content(b.output_file_id).text.splitlines():
                result = json.loads(line)
                body = result["response"]["body"]
                answers[result["custom_id"]] = json.loads(body["choices"][0]["message"]["content"])
        labelled = df.copy()
        keys = [f"row-{i}" for i in df.index]
        labelled["sentiment"] = [answers.get(k, {}).get("sentiment") for k in keys]
        labelled["confidence"] = [answers.get(k, {}).get("confidence") for k in keys]
        return labelled

    t = time.perf_counter()
    labelled = join()
    times["join"] = time.perf_counter() - t
    t = time.perf_counter()
    join()
    times["second join"] = time.perf_counter() - t
    assert labelled["sentiment"].notna().all()
    jsonl_mb = sum(p.stat().st_size for p in paths) / 1e6
    return {"times": times, "peak_mb": peak.stop() - base, "jsonl_mb": jsonl_mb,
            "batches": len(batch_ids)}  # fmt: skip


def child(way: str, rows: int, base_url: str, token: str) -> dict:
    """Run one way in a fresh interpreter, so its peak RSS is its own."""
    home = tempfile.mkdtemp(prefix="bench-home-")
    return run_in_child("bench_end_to_end", f"run_{way}({rows}, {base_url!r}, {token!r})",
                        {"DW_NOTEBOOK_HOME": home})  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--port", type=int, default=18766)
    args = parser.parse_args()
    token = "bench-token"
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-server-") as data_dir:
        server = start_server(args.port, token, "--dialect", "openai", "--data-dir", data_dir)
        try:
            base_url = f"http://127.0.0.1:{args.port}/v1"
            dw = child("dw", args.rows, base_url, token)
            sdk = child("sdk", args.rows, base_url, token)
        finally:
            server.terminate()
            server.wait(30)
    print(f"{args.rows:,} rows, {sdk['jsonl_mb']:.0f} MB of request JSONL (SDK way), "
          f"{dw['batches']} batches; load average {load_before[0]:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after ({os.cpu_count()} CPUs, shared)")  # fmt: skip
    print(f"{'phase':<24}{'dw-notebook s':>15}{'SDK way s':>12}{'ratio':>9}"
          f"{'dw-notebook peak RSS so far':>30}")  # fmt: skip
    for phase in dw["times"]:
        a, b = dw["times"][phase], sdk["times"][phase]
        print(f"{phase:<24}{a:>15.2f}{b:>12.2f}{b / max(a, 1e-9):>8.1f}x"
              f"{dw['rss'][phase]:>27.0f} MB")  # fmt: skip
    print(f"{'':<24}dw-notebook's uploads and batches were made on the job's thread within "
          f"{dw['sent_s']:.2f} s of submit returning (counted in 'complete')")  # fmt: skip
    total_dw, total_sdk = sum(dw["times"].values()), sum(sdk["times"].values())
    print(f"{'end to end':<24}{total_dw:>15.2f}{total_sdk:>12.2f}{total_sdk / total_dw:>8.1f}x")
    ratio = dw["peak_mb"] / sdk["jsonl_mb"]
    print(f"client peak RSS growth: dw-notebook {dw['peak_mb']:.0f} MB ({ratio:.2f}x the JSONL), "
          f"SDK way {sdk['peak_mb']:.0f} MB")  # fmt: skip
    second = dw["times"]["join"] / max(dw["times"]["second join"], 1e-9)
    checks = {
        "end to end >= 3x faster than the SDK way": total_sdk / total_dw >= 3,
        "submit returns in under 1 s": dw["times"]["submit (cell returns)"] < 1,
        "client peak RSS <= 1.5x the JSONL": dw["peak_mb"] <= 1.5 * sdk["jsonl_mb"],
        f"second join >= 5x faster than the first ({second:.1f}x)": second >= 5,
    }
    for name, ok in checks.items():
        print(f"target {name}: {'PASS' if ok else 'FAIL'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
