#!/usr/bin/env bash
# Set up, then open notebooks/quickstart.ipynb in JupyterLab against the embedded local server
# (no API key needed). With --headless, run the same labelling job in the terminal instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "${1:-}" = "--headless" ]; then
    shift
    exec .venv/bin/python -m dw_notebook demo "$@"
fi
ROOT_FLAG=""
[ "$(id -u)" -eq 0 ] && ROOT_FLAG="--allow-root"
exec .venv/bin/python -m jupyter lab notebooks/quickstart.ipynb $ROOT_FLAG "$@"
