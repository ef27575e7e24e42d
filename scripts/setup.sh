#!/usr/bin/env bash
# Prepare a fresh checkout: a virtualenv in .venv with the package (editable) and its dev tools,
# the npm packages, and the widget bundles in dw_notebook/static/. Safe to run again.
# With --browser it also installs Debian's chromium for the browser tests (needs root or sudo):
# headless chromium and a font for screenshots, without recommends (no desktop extras).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
npm ci --no-audit --no-fund --loglevel=error
npm run --silent build
.venv/bin/python -m pip install --quiet -e ".[dev]"

if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends chromium fonts-liberation
fi
