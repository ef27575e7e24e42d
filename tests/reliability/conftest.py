"""The reliability suite: faults through real HTTP, and what each one cost, counted.

Every scenario ends with ``tally``: batches the service holds per chunk of each job (must be 1),
rows joined (all, each once), rows paid twice (answered by more than one batch: 0). With
``DW_RELIABILITY_REPORT=<path.md>`` set, each scenario adds a row and the session writes the
table there (``bash scripts/reliability_report.sh`` regenerates ``docs/RELIABILITY.md``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from counts import REPORT_ENV, ROWS, Tally
from kill import end_kernels


@pytest.fixture(autouse=True)
def _no_kernel_left():
    """Kernels a scenario started are ended, and their pipes closed, whatever the outcome."""
    yield
    end_kernels()


@pytest.fixture
def report(request):
    """``report(tally, fault=..., message=...)`` checks the counts and adds the table row."""

    def add(t: Tally, *, fault: str, message: str, scenario: str | None = None) -> None:
        t.assert_clean()
        name = scenario or request.node.name.removeprefix("test_").replace("_", " ")
        ROWS.append({
            "scenario": name, "fault": fault, "batches_per_chunk": t.batches_per_chunk,
            "chunks": t.chunks, "rows": t.rows, "rows_lost": t.rows_lost,
            "paid_twice": t.paid_twice, "message": message,
        })  # fmt: skip

    return add


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get(REPORT_ENV)
    if not path or not ROWS:
        return
    from report_table import kept_sections, render

    target = Path(path)
    kept = kept_sections(target.read_text(encoding="utf-8")) if target.exists() else ""
    target.write_text(render(ROWS, failed=session.testsfailed) + kept, encoding="utf-8")
