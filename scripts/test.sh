#!/usr/bin/env bash
# Set up everything (Python, npm, Debian chromium) and run every test: JS unit tests, then the
# Python suite (local server over real HTTP, notebooks, real JupyterLab in headless Chromium).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
npm test --silent
.venv/bin/python -m pytest "$@"
