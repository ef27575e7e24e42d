"""The conformance table names tests that exist, and every Doubleword test file is in it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def _tests_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name[:5] == "test_"}


def test_each_test_the_table_names_exists():
    text = (ROOT / "docs" / "conformance.md").read_text()
    named = re.findall(r"`([\w]+\.py)::(test_\w+)`", text)
    assert len(named) > 30
    missing = [f"{f}::{t}" for f, t in named if t not in _tests_of(HERE / f)]
    assert missing == [], f"docs/conformance.md names tests that do not exist: {missing}"
    files = {f for f, _ in named}
    assert {p.name for p in HERE.glob("test_dw_*.py")} <= files


def test_the_page_is_in_the_site_navigation():
    assert "conformance.md" in (ROOT / "mkdocs.yml").read_text()
