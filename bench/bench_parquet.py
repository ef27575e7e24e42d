"""Beyond memory: parquet rows through prepare -> submit -> complete -> join(path=), streamed.

Writes N rows (default 5,000,000) of about 300 bytes of text each to parquet files in a temp
directory, then, in a fresh client process against ``dw-notebook serve --rate none`` in another
process, runs ``dw.prepare`` and ``dw.submit`` on the glob (read and built 100,000 rows at a
time, request files spooled to disk), waits for every batch, and writes the joined rows with
``job.join(path=...)``. Prints seconds per phase and the client's peak RSS (target: under 1 GB
for 5M rows). Run: ``.venv/bin/python bench/bench_parquet.py [--rows 200000]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench_build_join import SCHEMA
from bench_end_to_end import POLL_S, PROMPT, SYSTEM, Peak, frame
from bench_upload import run_in_child, start_server

HERE = Path(__file__).parent
FILE_ROWS = 500_000


def write_parquet(rows: int, folder: Path) -> int:
    """``rows`` rows in files of at most FILE_ROWS rows, a ``review_id`` column; total bytes."""
    for k, start in enumerate(range(0, rows, FILE_ROWS)):
        part = frame(min(FILE_ROWS, rows - start)).reset_index()
        part["review_id"] = [f"r{start + i:08d}" for i in range(len(part))]
        part["review"] = part["review"] + f" #{k}"  # the files differ: so do their requests
        part.to_parquet(folder / f"part-{k:03d}.parquet", index=False)
    return sum(p.stat().st_size for p in folder.glob("*.parquet"))


def run_dw(folder: str, out_path: str, base_url: str, token: str) -> dict:
    import pyarrow.parquet as pq

    import dw_notebook as dw

    source = f"{folder}/*.parquet"
    args = {"model": "mock", "system": SYSTEM, "response_format": SCHEMA, "id_column": "review_id"}
    base = Peak.rss_mb()
    peak = Peak()
    times, rss = {}, {}

    def phase(name: str, t: float) -> None:
        times[name] = time.perf_counter() - t
        rss[name] = peak.peak

    t = time.perf_counter()
    prepared = dw.prepare(source, PROMPT, **args)
    jsonl_mb = prepared.nbytes / 1e6
    phase("prepare", t)
    del prepared
    t = time.perf_counter()
    job = dw.submit(source, PROMPT, **args, api_key=token, base_url=base_url, force=True)
    phase("submit (build; cell returns)", t)
    t = time.perf_counter()
    job.wait_submitted()  # the uploads and creates on the job's thread
    phase("upload + create", t)
    t = time.perf_counter()
    while not job.refresh().done:
        time.sleep(POLL_S)
    phase("complete", t)
    t = time.perf_counter()
    job.join(path=out_path)
    phase("join(path=)", t)
    written = pq.ParquetFile(out_path).metadata.num_rows
    return {"times": times, "rss": rss, "peak_mb": peak.stop(), "base_mb": base,
            "jsonl_mb": jsonl_mb, "rows": written, "batches": len(job.batch_ids)}  # fmt: skip


def child(folder: Path, out_path: Path, base_url: str, token: str) -> dict:
    # the client's registry and result cache (GBs at 5M rows) go with the temp dir
    call = f"run_dw({str(folder)!r}, {str(out_path)!r}, {base_url!r}, {token!r})"
    return run_in_child("bench_parquet", call, {"DW_NOTEBOOK_HOME": str(folder.parent / "home")})


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("rows", nargs="?", type=int, default=5_000_000)
    parser.add_argument("--port", type=int, default=18767)
    args = parser.parse_args()
    token = "bench-token"
    with tempfile.TemporaryDirectory(prefix="bench-parquet-") as tmp:
        folder, data_dir = Path(tmp) / "reviews", Path(tmp) / "server"
        folder.mkdir()
        t = time.perf_counter()
        parquet_mb = write_parquet(args.rows, folder) / 1e6
        print(f"wrote {args.rows:,} rows to {len(list(folder.glob('*.parquet')))} parquet files "
              f"({parquet_mb:,.0f} MB) in {time.perf_counter() - t:.1f} s")  # fmt: skip
        server = start_server(args.port, token, "--dialect", "openai", "--data-dir", str(data_dir))
        try:
            result = child(folder, Path(tmp) / "labelled.parquet", f"http://127.0.0.1:{args.port}/v1",
                           token)  # fmt: skip
        finally:
            server.terminate()
            server.wait(30)
    assert result["rows"] == args.rows, result
    print(
        f"{args.rows:,} rows, {result['jsonl_mb']:,.0f} MB of request JSONL, "
        f"{result['batches']} batches; client RSS at start {result['base_mb']:.0f} MB"
    )
    print(f"{'phase':<26}{'seconds':>10}{'client peak RSS so far':>26}")
    for name, seconds in result["times"].items():
        print(f"{name:<26}{seconds:>10.1f}{result['rss'][name]:>23.0f} MB")
    print(f"{'total':<26}{sum(result['times'].values()):>10.1f}")
    ok = result["peak_mb"] < 1024
    print(
        f"client peak RSS {result['peak_mb']:.0f} MB: target under 1 GB {'PASS' if ok else 'FAIL'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
