#!/usr/bin/env bash
# Run the reliability suite and regenerate docs/RELIABILITY.md from its counts.
# Extra arguments go to pytest (e.g. -x, or -k to run part of it: the table then has only those).
set -euo pipefail
cd "$(dirname "$0")/.."
DW_RELIABILITY_REPORT="$PWD/docs/RELIABILITY.md" \
    .venv/bin/python -m pytest tests/reliability -q -p no:cacheprovider "$@"
echo "wrote docs/RELIABILITY.md"
