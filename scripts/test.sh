#!/usr/bin/env bash
# Set up everything (Python, npm, Debian chromium) and run every test: JS unit tests, then the
# Python suite (local server over real HTTP, notebooks, real JupyterLab in headless Chromium).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
npm test --silent
# two workers, each taking whole test files (module and package fixtures stay in one process):
# most tests wait on servers, kernels and browsers, so this halves the wall time on 2 cores
.venv/bin/python -m pytest -n 2 --dist loadfile "$@"
