"""A pilot whose answers were cut off, in JupyterLab: the widget shows what it found and the
max_tokens it proposes before any click, Proceed with the fix sends the rest with that cap
(read back from the request files the local server received), and the report's rows show
each row's own text, the shared system prompt once (screenshot ``pilot-fix.png``)."""

from __future__ import annotations

import json
import re

import orjson
import pytest

from dw_notebook.client import BatchClient

from .conftest import open_notebook, run_all, write_notebook
from .test_records_browser import OVERFLOW_JS, _set_theme

pytestmark = pytest.mark.browser

SYSTEM = "You label product reviews for a quality team. Be strict and consistent."


def cells(home: str, where: str) -> list[str]:
    return [
        f"import os, json; os.environ['DW_NOTEBOOK_HOME'] = {home!r}\n"
        "import dw_notebook as dw\n"
        "from dw_notebook.datasets import sample_reviews\n"
        "srv = dw.local(rate=100.0)\n"
        f"open({where!r}, 'w').write(json.dumps([srv.base_url, srv.token]))\n"
        "df = sample_reviews(120)",
        "schema = {'type': 'object', 'properties': {'sentiment': {'enum': ['positive', "
        "'negative', 'neutral']}, 'reason': {'type': 'string'}}}\n"
        f'job = dw.submit(df, "Sentiment of this review: {{review}}", system={SYSTEM!r},'
        ' model="Qwen/Qwen3.5-9B", response_format=schema, max_tokens=8, pilot=10,'
        ' name="pilot-fix")\njob',
        "print('DW-MARK:' + 'shown')",
    ]


def request_bodies(base_url: str, token: str) -> list[list[dict]]:
    with BatchClient(base_url, token) as client:
        batches = list(reversed(list(client.iter_batches())))
        return [
            [orjson.loads(line)["body"]
             for line in client.file_content(b["input_file_id"]).data.splitlines() if line.strip()]
            for b in batches
        ]  # fmt: skip


def test_the_pilot_proposes_max_tokens_and_proceed_sends_it(jupyter, page, tmp_path):
    where = tmp_path / "server.json"
    path = write_notebook(jupyter.root, "pilotfix.ipynb",
                          cells(str(tmp_path / "home"), str(where)))  # fmt: skip
    open_notebook(page, jupyter, path, "lab")
    run_all(page)
    page.wait_for_mark("shown", timeout=60)
    p = page.page
    proceed = p.locator('[data-testid="dw-proceed"]')
    proceed.wait_for(state="visible", timeout=60_000)

    findings = p.inner_text('[data-testid="dw-pilot-findings"]')
    match = re.search(r"(\d+) of 10 answers were cut off at max_tokens=8 .*"
                      r"proposed max_tokens=(\d+)", findings)  # fmt: skip
    assert match and int(match.group(1)) > 0, findings
    proposed = int(match.group(2))
    assert p.input_value('[data-testid="dw-pilot-max-tokens"]') == str(proposed)
    assert proceed.inner_text() == f"Proceed with max_tokens={proposed}: send the other 110 rows"
    shared = p.inner_text('[data-testid="dw-pilot-shared"]')
    assert SYSTEM in shared
    prompts = p.locator(".dw-pilot-prompt").all_inner_texts()
    assert len(prompts) == 10 and not any(SYSTEM in t for t in prompts)
    assert all(t.strip().startswith("…") for t in prompts), prompts

    node = p.locator('[data-testid="dw-pilot"]').first
    node.scroll_into_view_if_needed()
    page.screenshot("pilot-fix", '[data-testid="dw-progress"]')
    _set_theme(page, True)  # dark, in a narrow output: the fix block still fits and reads
    p.evaluate("() => window.jupyterapp.shell.collapseLeft()")
    p.set_viewport_size({"width": 400, "height": 1800})
    p.wait_for_timeout(250)
    problems = p.evaluate(OVERFLOW_JS, {"pilot": '[data-testid="dw-pilot-fix"]'})
    node.scroll_into_view_if_needed()
    page.screenshot("pilot-fix-dark-400", '[data-testid="dw-pilot-fix"]')
    _set_theme(page, False)
    p.set_viewport_size({"width": 1280, "height": 900})
    assert problems == [], problems

    # a cap that is no fix keeps Proceed disabled until "send unchanged" is ticked
    p.fill('[data-testid="dw-pilot-max-tokens"]', "8")
    assert proceed.is_disabled()
    p.fill('[data-testid="dw-pilot-max-tokens"]', str(proposed))
    assert proceed.is_enabled()
    proceed.click()
    p.wait_for_selector('[data-testid="dw-progress-static"]', timeout=90_000)
    page.screenshot("pilot-fix-whole-job", '[data-testid="dw-progress-static"]')

    base_url, token = json.loads(where.read_text())
    bodies = request_bodies(base_url, token)
    assert len(bodies) == 2 and len(bodies[1]) == 110
    assert {b["max_tokens"] for b in bodies[1]} == {proposed}
    assert {b["max_tokens"] for b in bodies[0]} == {8}
    assert page.errors == []
