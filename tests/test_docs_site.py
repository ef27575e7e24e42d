"""The documentation site builds with ``mkdocs build --strict``, with every notebook in it, and a
broken reference fails the build."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=240,
        env=os.environ | {"NO_MKDOCS_2_WARNING": "1"},
    )


def documented_names(page: Path) -> list[str]:
    """Every ``::: object`` of the page and each member its ``members:`` list names (mkdocstrings
    leaves out a listed member that does not exist without a warning)."""
    names: list[str] = []
    current = None
    for line in page.read_text().splitlines():
        if line.startswith("::: "):
            current = line[4:].strip()
            names.append(current)
        elif current and re.fullmatch(r" {8}- \w+", line):
            names.append(f"{current}.{line.strip()[2:]}")
    return names


def test_the_site_builds_strict_with_every_notebook(tmp_path):
    done = build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stderr
    home = (tmp_path / "site" / "index.html").read_text()
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        page = tmp_path / "site" / "notebooks" / notebook.stem / "index.html"
        assert page.is_file(), f"{notebook.name} is not in the site"
        assert f'href="notebooks/{notebook.stem}/"' in home, f"{notebook.name} is not in the nav"
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    for name in documented_names(ROOT / "docs" / "api.md"):
        assert f'id="{name}"' in api, f"{name} is missing from the API page (renamed or gone?)"
    assert "<blockquote>" not in api, "docstring examples (>>>) rendered as quotes, not code"
    benchmarks = (tmp_path / "site" / "benchmarks" / "index.html").read_text()
    assert "bench_build_join.py" in benchmarks  # bench/README.md, included


BROKEN = {  # what the page gets, and what the build's complaint names
    "page link": ("[a page that does not exist](no-such-page.md)", "no-such-page.md"),
    "API reference": ("[a function][dw_notebook.no_such_function]", "no_such_function"),
    "API object": ("::: dw_notebook.no_such_function", "no_such_function"),
    "included file": ('--8<-- "bench/NO-SUCH-FILE.md"', "NO-SUCH-FILE.md"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_broken_reference_fails_the_build(tmp_path, kind):
    site = tmp_path / "copy"
    shutil.copytree(ROOT / "docs", site / "docs")
    shutil.copy(ROOT / "mkdocs.yml", site / "mkdocs.yml")
    (site / "notebooks").mkdir()
    shutil.copytree(ROOT / "bench", site / "bench")
    text, named = BROKEN[kind]
    with (site / "docs" / "index.md").open("a") as page:
        page.write(f"\n\n{text}\n")
    done = build(site / "mkdocs.yml", tmp_path / "out")
    assert done.returncode != 0, f"a broken {kind} did not fail the build"
    assert named in done.stdout + done.stderr, done.stderr  # it failed for that reason
