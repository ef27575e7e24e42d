"""Two notebooks (separate processes, separate data dirs) run the same submit cell at the same
moment, round after round, against one local server: what is left of the race.

    python bench/bench_race.py [--rounds 20] [--dialect doubleword] [--rows 30] [--max-requests 10]

Per round: batches created, batches still running per chunk (1 is right), duplicates cancelled
before they ran, rows answered by two batches (paid twice), and whether both kernels follow the
same batches. Uses the notebook script of the reliability tests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests" / "reliability"), str(HERE.parent / "tests")]

from counts import tally  # noqa: E402
from kernels import ready, result, start_notebook  # noqa: E402
from kill import end_kernels  # noqa: E402

from dw_notebook.server import start_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--dialect", default="doubleword")
    parser.add_argument("--rows", type=int, default=30)
    parser.add_argument("--max-requests", type=int, default=10)
    # seconds before a batch's requests run (Doubleword: seconds)
    parser.add_argument("--validation-delay", type=float, default=0.3)
    opts = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dw-race-"))
    server = start_server(
        dialect=opts.dialect, backend="mock", rate=2000.0, validation_delay=opts.validation_delay,
        finalize_delay=0.05, data_dir=tmp / "server",
    )  # fmt: skip
    before = {"batches": 0, "cancelled": 0, "paid_twice": 0}
    bad = twice = dupes = 0
    try:
        for k in range(opts.rounds):
            args = {
                "base_url": server.base_url, "token": server.token, "rows": opts.rows + k,
                "submit": {"max_requests": opts.max_requests}, "go": True, "join": True,
            }  # fmt: skip
            procs = [start_notebook(tmp / f"r{k}-{i}", **args) for i in range(2)]
            for proc in procs:
                ready(proc)
            for proc in procs:
                proc.stdin.write("go\n")
                proc.stdin.flush()
            started = time.monotonic()
            results = [result(proc) for proc in procs]
            took = time.monotonic() - started
            t = tally(server, None, 0)
            cancelled = t.extra["cancelled_before_running"] - before["cancelled"]
            paid = t.paid_twice - before["paid_twice"]
            ids = [sorted(r.get("batch_ids", [])) for r in results]
            same = ids[0] == ids[1]
            errors = [r["message"] for r in results if "error" in r]
            created = t.batches - before["batches"]
            before = {"batches": t.batches, "cancelled": t.extra["cancelled_before_running"],
                      "paid_twice": t.paid_twice}  # fmt: skip
            running = created - cancelled
            chunks = -(-(opts.rows + k) // opts.max_requests)
            bad += running != chunks or not same or bool(errors)
            twice += paid > 0
            dupes += cancelled
            print(f"round {k + 1:2}: {created} batches created for {chunks} chunks, {running} ran, "
                  f"{cancelled} cancelled before running, {paid} rows paid twice, "
                  f"same batches in both kernels: {same}, {took:.1f} s"
                  + (f", errors: {errors}" if errors else ""), flush=True)  # fmt: skip
    finally:
        end_kernels()
        server.stop()
    print(
        f"{opts.rounds} rounds ({opts.dialect}, validation {opts.validation_delay} s): {bad} "
        f"with a duplicate left running or an error, {twice} with rows paid twice, "
        f"{dupes} duplicates cancelled before running"
    )


if __name__ == "__main__":
    main()
