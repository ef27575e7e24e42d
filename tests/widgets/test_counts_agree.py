"""One count of a job's rows everywhere: a run whose answers are cut off at max_tokens (so they
do not parse), whose requests partly fail and whose lines partly never arrive prints the same
numbers on the job's card, its static record and repr, the review's header, tabs, static record
and repr; after a retry, "recovered" counts only rows that now have a parsed answer."""

from __future__ import annotations

import re
import time
from typing import Literal

import orjson
from pydantic import BaseModel
from support.proxy import FaultProxy, Reply

import dw_notebook as dw
from dw_notebook.datasets import sample_reviews
from dw_notebook.jsonl.results import row_counts
from dw_notebook.progress.text import format_progress, format_summary
from dw_notebook.widgets.static import snapshot_html

COUNTS = re.compile(
    r"(\d[\d,]*) rows: (\d[\d,]*) answered(?: \((\d[\d,]*) parsed, (\d[\d,]*) unparsed\))?"
    r"(?:, \d[\d,]* cut off at max_tokens)? · (\d[\d,]*) failed(?: \([^)]*\))? · (\d[\d,]*) missing"
)


class Label(BaseModel):
    sentiment: Literal["positive", "negative", "neutral"]


def numbers(text: str) -> tuple[int, ...]:
    """(rows, answered, parsed, unparsed, failed, missing) as printed in ``text``."""
    match = COUNTS.search(text)
    assert match, text
    rows, answered, parsed, unparsed, failed, missing = (
        int(g.replace(",", "")) if g else None for g in match.groups()
    )
    if parsed is None:  # every answer parsed
        parsed, unparsed = answered, 0
    return rows, answered, parsed, unparsed, failed, missing


def cut_and_drop(cut: set[str], dropped: set[str], state: dict):
    """Output files as a too small max_tokens and a slow service make them: the answers of
    ``cut`` rows end mid-JSON with finish_reason length; the lines of ``dropped`` rows are
    missing until the retry."""

    def change(reply: Reply, path: str) -> Reply:
        kept = []
        for raw in reply.body.splitlines():
            line = orjson.loads(raw) if raw.strip() else None
            if line is None or not ((line.get("response") or {}).get("body") or {}).get("choices"):
                kept.append(raw)
                continue
            if line["custom_id"] in dropped and not state["retried"]:
                continue
            if line["custom_id"] in cut:
                choice = line["response"]["body"]["choices"][0]
                choice["message"]["content"] = choice["message"]["content"][:8]
                choice["finish_reason"] = "length"
            kept.append(orjson.dumps(line))
        return Reply(reply.status, reply.headers, b"".join(x + b"\n" for x in kept))

    return change


def surfaces(job, review) -> dict[str, str]:
    """Every text that prints the job's counts."""
    snap = job.snapshot()
    html = review._repr_mimebundle_()[0]["text/html"]
    return {
        "card counts": re.search(r'data-testid="dw-counts"[^>]*>([^<]*)<', snapshot_html(snap))[1],
        "card summary": format_summary(snap),
        "job repr": repr(job),
        "progress line": format_progress(snap),
        "review repr": repr(review),
        "review static record": re.search(r'data-testid="dw-review-counts"[^>]*>([^<]*)<', html)[1],
    }


def test_every_view_prints_the_same_counts_and_recovered_means_parsed(make_server, shell):
    flaky = make_server(rate=None, backend_options={"failure_rate": 0.25}, max_attempts=1)
    with FaultProxy(flaky.base_url) as proxy:
        df = sample_reviews(60)
        cut, dropped, state = set(), set(), {"retried": False}
        proxy.rewrite("GET", r"/files/[^/]+/content", cut_and_drop(cut, dropped, state))
        job = dw.submit(
            df, "Sentiment: {review}", model="mock", response_format=Label,
            api_key=flaky.token, base_url=proxy.base_url,
        )  # fmt: skip
        ids = list(job.built.row_ids)  # custom_ids, in row order; read once files are asked for
        cut.update(ids[::4])
        dropped.update(ids[1::9])
        out = job.join(timeout=60, missing_files="not_run")

        by_id = dict(zip(out.index, ids, strict=True))
        failed = {by_id[i] for i in out.index[out["status"].eq("failed")]}
        assert failed
        counts = row_counts(out)
        # the truth, from what the service and the proxy did
        assert counts.failed == len(failed)
        assert counts.missing == len(dropped - failed) > 0
        assert counts.unparsed == len(cut - failed - dropped) > 0
        assert counts.answered == 60 - counts.failed - counts.missing
        expected = (60, counts.answered, counts.parsed, counts.unparsed, counts.failed,
                    counts.missing)  # fmt: skip
        review = job.review()
        assert review.overview["views"] == {
            "samples": counts.parsed, "unparsed": counts.unparsed, "failed": counts.failed,
        }  # fmt: skip
        assert job.snapshot().rows == counts.to_dict()
        for where, text in surfaces(job, review).items():
            assert numbers(text) == expected, where

        time.sleep(2)  # the whole job's time then spans both attempts, a retry's does not
        flaky.backend.failure_rate = 0.0
        state["retried"] = True
        job.retry(send_unchanged=True)  # the cut rows as they were: cut off again
        out = job.join(timeout=60)
        counts = row_counts(out)
        # the retry's answers of cut rows are cut again: they came back, but recovered nothing
        # the missing lines arrive late (the retry does not send rows of a batch whose files
        # are not settled); the failed rows are sent again, and those cut again recover nothing
        assert counts.recovered == len(failed - cut) > 0
        assert counts.unparsed == len(cut) and counts.failed == counts.missing == 0
        whole = job.snapshot()
        assert whole.recovered == counts.recovered
        assert whole.attempts[1].completed > counts.recovered  # the service's count is more
        review = job.review()
        expected = (60, 60, counts.parsed, counts.unparsed, 0, 0)
        for where, text in surfaces(job, review).items():
            assert numbers(text) == expected, where
        assert f"{counts.recovered} recovered on retry 1" in format_summary(whole)
        assert f"{counts.recovered} recovered on retry 1" in snapshot_html(whole)

        retry_card = whole.for_attempt(1)
        assert retry_card.name.endswith(" · retry 1")
        assert whole.elapsed_s >= retry_card.elapsed_s + 1  # first create to last end
        assert whole.elapsed_s >= whole.attempts[0].elapsed_s + 1
