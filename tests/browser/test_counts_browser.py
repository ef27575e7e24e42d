"""A labelling job in JupyterLab whose answers are partly cut off at max_tokens (so they do not
parse) and partly fail, then a retry: the job's card, the review's header and tabs and the
review's static record print the same counts, and the retry's card names one attempt."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import open_notebook, run_all, write_notebook

pytestmark = pytest.mark.browser

TESTS = Path(__file__).parents[1]
COUNTS = re.compile(
    r"(\d+) rows: (\d+) answered \((\d+) parsed, (\d+) unparsed\), (\d+) cut off at max_tokens"
    r" · (\d+) failed(?: \([^)]*\))? · (\d+) missing"
)


def _cells(tmp: Path) -> list[str]:
    return [
        f"import os, sys; os.environ['DW_NOTEBOOK_HOME'] = {str(tmp / 'home')!r}\n"
        f"sys.path.insert(0, {str(TESTS)!r})\n"
        "from typing import Literal\n"
        "import orjson\n"
        "from pydantic import BaseModel\n"
        "from support.proxy import FaultProxy, Reply\n"
        "import dw_notebook as dw\n"
        "from dw_notebook.datasets import sample_reviews\n"
        "srv = dw.local(rate=150.0, backend_options={'failure_rate': 0.3}, max_attempts=1)\n"
        "proxy = FaultProxy(srv.base_url).start()\n"
        "def cut_off(reply, path):  # every fourth answer ends mid-JSON: max_tokens too small\n"
        "    lines = []\n"
        "    for raw in reply.body.splitlines():\n"
        "        line = orjson.loads(raw)\n"
        "        body = (line.get('response') or {}).get('body') or {}\n"
        "        if body.get('choices') and int(line['custom_id'][-2:]) % 4 == 0:\n"
        "            body['choices'][0]['message']['content'] = '{\"sentim'\n"
        "            body['choices'][0]['finish_reason'] = 'length'\n"
        "        lines.append(orjson.dumps(line) + b'\\n')\n"
        "    return Reply(reply.status, reply.headers, b''.join(lines))\n"
        "proxy.rewrite('GET', r'/files/[^/]+/content', cut_off)\n"
        "class Label(BaseModel):\n"
        "    sentiment: Literal['positive', 'negative', 'neutral']\n"
        "df = sample_reviews(60)",
        "job = dw.submit(df, 'Sentiment: {review}', model='mock', response_format=Label,"
        " name='counts', api_key=srv.token, base_url=proxy.base_url)\njob",
        "out = job.join()\nsrv.backend.failure_rate = 0.0",
        "job.retry(send_unchanged=True)  # cut-off rows as they were: cut off again",
        "out = job.join()\nreview = job.review()\nreview",
        "from IPython.display import HTML\n"
        "HTML(review._repr_mimebundle_()[0]['text/html'])  # the record a saved notebook keeps",
        "print(repr(job)); print(repr(review)); print('DW-MARK:end')",
    ]


def _cell_text(p, index: int, selector: str = ".jp-OutputArea") -> str:
    return p.evaluate(
        """([i, sel]) => {
          const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
          const node = cell && cell.querySelector(sel);
          return node ? node.textContent : '';
        }""",
        [index, selector],
    )


def test_the_card_the_review_and_its_record_print_the_same_counts(jupyter, page, tmp_path):
    path = write_notebook(jupyter.root, "counts.ipynb", _cells(tmp_path))
    open_notebook(page, jupyter, path, "lab")
    run_all(page)
    page.wait_for_mark("end", timeout=150)
    p = page.page
    p.wait_for_selector('[data-testid="dw-review"] [data-testid="dw-page-row"]', timeout=30_000)

    card = _cell_text(p, 1, '[data-testid="dw-progress-static"]')
    retry_card = _cell_text(p, 3, '[data-testid="dw-progress-static"]')
    header = _cell_text(p, 4, '[data-testid="dw-review-counts"]')
    tabs = [
        _cell_text(p, 4, f'[data-testid="dw-tab-{view}"]')
        for view in ("samples", "unparsed", "failed")
    ]
    record = _cell_text(p, 5, '[data-testid="dw-review-static"]')
    reprs = _cell_text(p, 6)

    texts = {"card": card, "header": header, "record": record, "reprs": reprs}
    found = {name: COUNTS.search(text) for name, text in texts.items()}
    assert all(found.values()), texts
    numbers = {name: tuple(map(int, m.groups())) for name, m in found.items()}
    rows, answered, parsed, unparsed, cut, failed, missing = numbers["header"]
    assert set(numbers.values()) == {numbers["header"]}, numbers
    assert (rows, answered, failed, missing) == (60, 60, 0, 0)
    assert unparsed == cut == 15  # the fourth of the rows, cut off again by the retry
    assert tabs == [f"Samples ({parsed})", f"Unparsed ({unparsed})", "Failed (0)"], tabs
    assert reprs.count(f"{rows} rows: {answered} answered ({parsed} parsed") == 2, reprs

    # recovered: rows the retry gave a parsed answer, fewer than it got lines back for
    recovered = int(re.search(r"(\d+) recovered on retry 1", card)[1])
    sent = int(re.search(r"retry 1\s*completed\s*(\d+) / \d+ done", card)[1])
    assert 0 < recovered < sent, card
    assert "counts · retry 1" in retry_card and "retry 2" not in retry_card, retry_card

    page.screenshot("counts-card", '[data-testid="dw-progress-static"]')
    p.locator('[data-testid="dw-tab-unparsed"]').click()
    p.wait_for_selector('[data-testid="dw-error-group"]', timeout=10_000)
    page.screenshot("counts-review", '[data-testid="dw-review"]')
    page.screenshot("counts-record", '[data-testid="dw-review-static"]')
    assert page.errors == []
