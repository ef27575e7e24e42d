#!/usr/bin/env bash
# Prepare a fresh checkout: a virtualenv in .venv with the package (editable) and its dev tools,
# the npm packages, and the widget bundles in dw_notebook/static/. Safe to run again: each step
# is skipped while what it depends on is unchanged (a hash of pyproject.toml kept in .venv/, of
# package.json and package-lock.json kept in node_modules/; bundles newer than everything in js/).
# With --browser it also installs Debian's chromium for the browser tests (needs root or sudo):
# headless chromium and a font for screenshots, without recommends (no desktop extras).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
PY_STAMP=.venv/.dw-notebook-setup
NPM_STAMP=node_modules/.dw-notebook-setup
BUNDLES=(progress builder jobs review)

hash_of() {
    if command -v sha256sum >/dev/null; then sha256sum "$@"; else shasum -a 256 "$@"; fi
}
up_to_date() {  # stamp file, then the files it covers
    local stamp="$1"
    shift
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(hash_of "$@")" ]
}

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi

npm_installed=""
if ! up_to_date "$NPM_STAMP" package.json package-lock.json; then
    npm ci --no-audit --no-fund --loglevel=error
    hash_of package.json package-lock.json >"$NPM_STAMP"
    npm_installed=1
fi

build="$npm_installed"
for name in "${BUNDLES[@]}"; do
    bundle="dw_notebook/static/$name.js"
    if [ ! -f "$bundle" ] || [ -n "$(find js -newer "$bundle" -print -quit)" ]; then
        build=1
    fi
done
if [ -n "$build" ]; then
    npm run --silent build
fi

if ! up_to_date "$PY_STAMP" pyproject.toml; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    # the bundles are built above: the package's own build hook need not run npm again
    SKIP_JUPYTER_BUILDER=1 .venv/bin/python -m pip install --quiet -e ".[dev]"
    hash_of pyproject.toml >"$PY_STAMP"
fi

if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends chromium fonts-liberation
fi
