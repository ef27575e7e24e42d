#!/usr/bin/env bash
# Every benchmark, one after the other; each prints its numbers and ratios. Run after setup.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
echo "== local server: 50,000 requests, mock backend, unlimited rate"
$PY bench/bench_server.py
echo "== upload: 200 MB streamed"
$PY bench/bench_upload.py
echo "== build and join: 200,000 rows"
$PY bench/bench_build_join.py "$@"
echo "== end to end: 200,000 rows, dw-notebook against the openai SDK's documented flow"
$PY bench/bench_end_to_end.py --rows 200000
echo "== parquet beyond memory: 1,000,000 rows streamed (5,000,000 by default)"
$PY bench/bench_parquet.py 1000000
echo "== autobatch: 10,000 calls against one prepared batch"
$PY bench/bench_autobatch.py
echo "== estimate vs actual input tokens: the example notebooks' requests"
$PY bench/bench_estimate.py
