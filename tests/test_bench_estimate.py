"""The estimate benchmark runs every example notebook's job whole and finds each estimate within
±25% of the input tokens the local server reports (a pilot job is measured whole, not by its
sample)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import bench_estimate as bench  # noqa: E402


def test_every_example_notebooks_estimate_is_within_a_quarter_of_the_actual(capsys):
    assert bench.main() == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.endswith("s)")]
    notebooks = {line.split()[0] for line in rows}
    submitting = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")
                  if "dw.submit(" in p.read_text()}  # fmt: skip
    assert notebooks == submitting and len(submitting) >= 3, rows
    assert all(" ok " in line for line in rows), rows
