"""A notebook as its own process with its own data dir: runs one submit (or attach) cell and
prints what came of it as one JSON line. Run as a script by ``kernels.py``.

    python notebook.py '<json>'

The JSON gives ``base_url``, ``token``, ``rows``, ``submit`` (keyword arguments of
``dw.submit``), ``attach`` (a name: ``dw.attach(name, df)`` first), ``join`` (wait for every
row), and ``go`` (print READY, then wait for a line on stdin before the cell: two notebooks
then start the same cell at the same moment).
"""

from __future__ import annotations

import sys
import warnings

import orjson

import dw_notebook as dw
from dw_notebook.datasets import sample_reviews

PROMPT = "Sentiment of this review, one word: {review}"


def frame(rows: int, long_from: int | None = None):
    df = sample_reviews(rows)
    if long_from is not None:  # rows from here on are long, so their file is larger
        df.loc[df.index[long_from:], "review"] = df["review"][long_from:] + " and so on" * 40
    return df


def cell(args: dict) -> dict:
    df = frame(args["rows"], args.get("long_from"))
    conn = {"api_key": args["token"], "base_url": args["base_url"]}
    result: dict = {}
    if name := args.get("attach"):
        job = dw.attach(name, df, **conn)
        result["attached"] = job.id
    if args.get("go"):
        print("READY", flush=True)
        sys.stdin.readline()
    job = dw.submit(df, PROMPT, model="mock", name="same-cell", **conn, **args.get("submit", {}))
    job.poll_interval = 0.05
    job.wait_submitted()
    result |= {"job": job.id, "batch_ids": job.batch_ids, "message": job.snapshot().message}
    if args.get("join"):
        out = job.join(timeout=60)
        result["statuses"] = out["status"].astype(str).value_counts().to_dict()
        result["answers"] = out["content"].tolist()
    if args.get("retry"):
        try:
            job.retry()
            result["retried"] = len(job.batch_ids) - len(result["batch_ids"])
        except dw.JobError as exc:
            result["retried"] = str(exc)
    return result


if __name__ == "__main__":
    args = orjson.loads(sys.argv[1])
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            result = cell(args)
        except Exception as exc:  # the cell's error, as the user would see it
            result = {"error": type(exc).__name__, "message": str(exc)}
    result["warnings"] = [str(w.message) for w in seen]
    print("RESULT", orjson.dumps(result).decode(), flush=True)
