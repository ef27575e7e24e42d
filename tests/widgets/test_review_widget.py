"""ReviewWidget: distributions, failed rows, paged samples sent compactly on request."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dw_notebook.widgets.review import ReviewWidget

from .conftest import browser_message


def results(n: int = 10) -> pd.DataFrame:
    labels = ["positive", "negative", "neutral"]
    frame = pd.DataFrame(
        {
            "review": [f"review {i}" for i in range(n)],
            "content": [labels[i % 3] for i in range(n)],
            "status": ["ok"] * n,
            "error": [None] * n,
            "prompt_tokens": pd.array(range(n), dtype="Int64"),
        },
        index=[f"r{i}" for i in range(n)],
    )
    frame.loc["r3", ["status", "error", "content"]] = ["failed", "HTTP 500: boom", None]
    frame.loc["r7", ["status", "error", "content"]] = ["expired", "batch expired", None]
    frame.loc["r9", ["status", "content"]] = ["not_run", None]
    return frame


def test_overview_counts_rows_by_status_and_finds_label_columns():
    widget = ReviewWidget(results(), prompt="review")
    assert widget.overview["by_status"] == {"ok": 7, "failed": 1, "expired": 1, "not_run": 1}
    assert widget.overview["views"] == {"samples": 7, "unparsed": 0, "failed": 2}
    assert widget.overview["label_columns"] == ["content"]
    assert widget.distributions == [
        {
            "column": "content",
            "values": [
                {"label": "neutral", "count": 3},
                {"label": "negative", "count": 2},
                {"label": "positive", "count": 2},
            ],
            "other": 0,
            "missing": 0,
            "total": 7,
        }
    ]


def test_free_text_answers_get_no_chart():
    frame = results()
    frame["content"] = [f"a long unique answer {i}" for i in range(len(frame))]
    assert ReviewWidget(frame).distributions == []


def test_samples_are_paged_column_oriented_with_prompt_beside_answer():
    widget = ReviewWidget(results(), prompt="review", page_size=3)
    first = widget.page("samples", 0)
    assert first["columns"] == ["prompt", "content"]
    assert first["index"] == ["r0", "r1", "r2"]
    assert first["data"] == {
        "prompt": ["review 0", "review 1", "review 2"],
        "content": ["positive", "negative", "neutral"],
    }
    assert (first["pages"], first["total"]) == (3, 7)
    last = widget.page("samples", 99)  # clamped to the last page
    assert last["page"] == 2 and last["index"] == ["r8"]


def test_failed_rows_come_with_status_and_error():
    page = ReviewWidget(results(), prompt="review").page("failed")
    assert page["index"] == ["r3", "r7"]
    assert page["data"]["status"] == ["failed", "expired"]
    assert page["data"]["error"] == ["HTTP 500: boom", "batch expired"]


def test_unparsed_answers_are_neither_samples_nor_failures_and_every_count_agrees():
    frame = results()
    frame["parse_error"] = None
    frame["finish_reason"] = "stop"
    frame.loc["r1", ["status", "parse_error", "finish_reason"]] = [
        "unparsed",
        "not valid JSON",
        "length",
    ]
    widget = ReviewWidget(frame)
    assert widget.page("unparsed")["index"] == ["r1"]
    assert widget.page("unparsed")["data"]["parse_error"] == ["not valid JSON"]
    assert widget.page("unparsed")["data"]["finish_reason"] == ["length"]
    assert {"status", "error"}.isdisjoint(widget.page("unparsed")["columns"])  # all the same
    assert "parse_error" not in widget.page("failed")["columns"]  # no answer to parse
    assert widget.page("failed")["index"] == ["r3", "r7"]
    assert "r1" not in widget.page("samples", 0)["index"]
    header = (
        "10 rows: 7 answered (6 parsed, 1 unparsed), 1 cut off at max_tokens · "
        "2 failed (1 error, 1 expired) · 1 missing"
    )
    assert widget.overview["views"] == {"samples": 6, "unparsed": 1, "failed": 2}
    assert repr(widget) == f"<dw review: {header}; labels: content>"
    assert header in widget._repr_mimebundle_()[0]["text/html"]
    assert {g["kind"]: g["view"] for g in widget.errors} == {
        "cut off at max_tokens": "unparsed",
        "HTTP 500": "failed",
        "batch expired": "failed",
    }


def test_a_label_filter_narrows_samples():
    widget = ReviewWidget(results())
    page = widget.page("samples", 0, {"column": "content", "label": "negative"})
    assert page["index"] == ["r1", "r4"] and page["total"] == 2


def test_shuffled_order_is_stable_and_covers_the_same_rows():
    widget = ReviewWidget(results(), page_size=100, seed=1)
    plain = widget.page("samples")["index"]
    shuffled = widget.page("samples", shuffle=True)["index"]
    assert shuffled == widget.page("samples", shuffle=True)["index"]
    assert sorted(shuffled) == sorted(plain) and shuffled != plain


def test_cells_are_json_safe_and_long_texts_are_cut():
    frame = results().iloc[:4].copy()
    frame["content"] = ["x" * 5000, "ok", "ok", "ok"]
    frame["score"] = pd.Series([np.float64("nan"), np.int64(3), np.bool_(True), 1.5],
                               index=frame.index, dtype=object)  # fmt: skip
    page = ReviewWidget(frame, answer_columns=["content", "score", "prompt_tokens"],
                        max_chars=100).page("samples")  # fmt: skip
    json.dumps(page, allow_nan=False)
    assert len(page["data"]["content"][0]) == 100 and page["data"]["content"][0].endswith("…")
    assert page["data"]["score"] == [None, 3, True]
    assert page["data"]["prompt_tokens"] == [0, 1, 2]  # r3 failed: not a sample


def test_prompt_can_be_a_series_or_a_callable():
    frame = results()
    series = pd.Series({f"r{i}": f"P{i}" for i in range(10)}).iloc[::-1]  # other order
    assert ReviewWidget(frame, prompt=series).page("samples")["data"]["prompt"][:2] == ["P0", "P1"]
    by_position = ReviewWidget(frame, prompt=lambda i: f"row #{i}").page("samples")
    assert by_position["data"]["prompt"][:2] == ["row #0", "row #1"]


def test_pages_are_a_round_trip_and_never_the_whole_frame():
    frame = pd.DataFrame({"content": np.where(np.arange(100_000) % 2, "yes", "no"), "status": "ok"})
    widget = ReviewWidget(frame, page_size=25)
    state_size = len(json.dumps(widget.get_state(["overview", "distributions"])))
    browser_message(widget, {"type": "page", "id": 4, "view": "samples", "page": 2})
    reply, buffers = widget.comm.customs()[-1]
    assert reply["id"] == 4 and reply["index"][0] == "50" and len(reply["index"]) == 25
    assert len(json.dumps(reply)) < 2_000 and state_size < 2_000


@pytest.mark.parametrize(
    "content",
    [{"type": "page", "view": "../etc", "page": "x"}, {"type": "page", "filter": "nope"}],
)
def test_odd_page_requests_still_get_an_answer(content):
    widget = ReviewWidget(results())
    browser_message(widget, {**content, "id": 1})
    reply = widget.comm.customs()[-1][0]
    assert reply["view"] == "samples" and reply["page"] == 0


def test_repr_summarises_the_results():
    assert repr(ReviewWidget(results())) == (
        "<dw review: 10 rows: 7 answered · 2 failed (1 error, 1 expired) · 1 missing; "
        "labels: content>"
    )


def test_unreadable_answers_are_listed_with_the_failed_rows():
    frame = results()
    reason = (
        "answer received but unreadable (output file f1 line 2): HTTP 200 with no response body"
    )
    frame.loc["r2", ["status", "error", "content"]] = ["unreadable", reason, None]
    page = ReviewWidget(frame, prompt="review").page("failed")
    assert page["index"] == ["r2", "r3", "r7"] and page["data"]["error"][0] == reason


def test_the_static_record_keeps_every_bucket_of_a_chart_with_percentages():
    frame = results(40)
    frame.loc[["r0", "r1", "r2", "r4"], "content"] = None  # answered rows without this label
    widget = ReviewWidget(frame, label_columns=["content"])
    html = widget._repr_mimebundle_()[0]["text/html"]
    bars = {d["label"]: d["count"] for d in widget.distributions[0]["values"]}
    total = widget.distributions[0]["total"]
    assert widget.distributions[0]["missing"] == 4
    for label, count in [*bars.items(), ("(missing)", widget.distributions[0]["missing"])]:
        assert f">{label}</span>" in html
        assert f"{count:,} ({int(100 * count / total + 0.5)}%)" in html, label
