"""Review that reads well: errors by kind with a hint, histograms for numbers, one spelling for
booleans, empty answer columns hidden, a shared system prompt shown once, static HTML."""

from __future__ import annotations

import pandas as pd

from dw_notebook.widgets.review import ReviewWidget


def structured(n: int = 12) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "review": [f"review {i}" for i in range(n)],
            "sentiment": pd.Categorical(["positive", "negative"] * (n // 2)),
            "stars": pd.array([1 + i % 5 for i in range(n)], dtype="Int64"),
            "confidence": [0.1 * (i % 10) for i in range(n)],
            "mentions_quality": pd.array([i % 3 == 0 for i in range(n)], dtype="boolean"),
            "status": ["ok"] * n,
            "error": [None] * n,
        },
        index=[f"r{i}" for i in range(n)],
    )
    answers = ["sentiment", "stars", "confidence", "mentions_quality"]
    for row, error in [("r1", "HTTP 500: The server had an error"),
                       ("r4", "HTTP 400: context_length_exceeded: too long"),
                       ("r5", "HTTP 400: context_length_exceeded: too long")]:  # fmt: skip
        frame.loc[row, "status"] = "failed"
        frame.loc[row, "error"] = error
        frame.loc[row, answers] = None
    return frame


def widget(frame: pd.DataFrame) -> ReviewWidget:
    answers = ["sentiment", "stars", "confidence", "mentions_quality"]
    prompt = lambda i: f"[system] You label product reviews.\n[user] {frame['review'].iloc[i]}"  # noqa: E731
    return ReviewWidget(frame, answer_columns=answers, prompt=prompt, page_size=5)


def test_errors_are_grouped_by_kind_with_counts_and_what_to_do():
    groups = widget(structured()).errors
    assert [(g["kind"], g["count"]) for g in groups] == [
        ("HTTP 400 context_length_exceeded", 2),
        ("HTTP 500", 1),
    ]
    assert "not fixed by a retry" in groups[0]["hint"] and "job.retry()" in groups[1]["hint"]


def test_numeric_answers_get_a_histogram_and_booleans_one_spelling():
    w = widget(structured())
    assert [h["column"] for h in w.histograms] == ["stars", "confidence"]
    stars = w.histograms[0]
    assert [b["label"] for b in stars["bins"]] == ["1", "2", "3", "4", "5"]
    assert sum(b["count"] for b in stars["bins"]) == 9
    quality = next(d for d in w.distributions if d["column"] == "mentions_quality")
    assert {v["label"] for v in quality["values"]} == {"true", "false"}
    page = w.page("samples", label_filter={"column": "mentions_quality", "label": "true"})
    assert page["total"] > 0 and all(v is True for v in page["data"]["mentions_quality"])


def test_failed_view_hides_empty_answer_columns_and_a_shared_prompt_shows_once():
    w = widget(structured())
    failed = w.page("failed")
    assert failed["columns"] == ["prompt", "status", "error"]
    assert set(failed["hidden_columns"]) == {"sentiment", "stars", "confidence", "mentions_quality"}
    assert failed["shared_prompt"] == "[system] You label product reviews.\n"
    assert failed["data"]["prompt"][0] == "[user] review 1"


def test_static_html_summarises_the_review_without_dollar_signs():
    frame = structured()
    frame.loc["r1", "error"] = "HTTP 500: costs $1 … $2"
    bundle, _ = widget(frame)._repr_mimebundle_()
    html = bundle["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "Failed rows by error" in html and "HTTP 400 context_length_exceeded" in html
    assert "stars" in html and "9 answered" in html and "$" not in html


def test_cut_off_and_unparsed_answers_are_advised_the_change_that_fixes_them():
    frame = structured()
    frame["parse_error"] = None
    frame["finish_reason"] = "stop"
    frame["completion_tokens"] = 9
    for row in ("r2", "r3"):  # cut off mid-JSON at max_tokens=16: unparsed because cut off
        frame.loc[row, ["parse_error", "finish_reason", "completion_tokens"]] = [
            "EOF",
            "length",
            16,
        ]
    frame.loc["r6", "parse_error"] = "missing field `stars`"  # answered in full, not the schema
    frame.loc[["r2", "r3", "r6"], "status"] = "unparsed"  # as the join marks them
    groups = {g["kind"]: g for g in widget(frame).errors}
    cut = groups["cut off at max_tokens"]
    assert cut["count"] == 2 and "job.retry(max_tokens=64)" in cut["hint"]
    unparsed = groups["parse error"]
    assert unparsed["count"] == 1 and "job.retry(schema_hint=True)" in unparsed["hint"]
    assert "asks again" not in unparsed["hint"]


def test_bookkeeping_columns_are_never_charted_as_labels():
    n = 12
    frame = structured(n).assign(
        phase=pd.Categorical(["pilot", "rest"] * (n // 2)),
        earlier_prompt=[i < 2 for i in range(n)],
        attempt=pd.array([0, 1] * (n // 2), dtype="Int64"),
        finish_reason=["stop"] * n,
        prompt_tokens=pd.array([10] * n, dtype="Int64"),
        batch_id=["batch_a", "batch_b"] * (n // 2),
    )
    named = ["sentiment", "stars", "phase", "earlier_prompt", "attempt", "finish_reason",
             "prompt_tokens", "batch_id"]  # fmt: skip
    for w in (ReviewWidget(frame), ReviewWidget(frame, answer_columns=named)):
        charted = [d["column"] for d in w.distributions] + [h["column"] for h in w.histograms]
        assert "sentiment" in charted and "stars" in charted
        assert not set(charted) & {"phase", "earlier_prompt", "attempt", "finish_reason",
                                   "prompt_tokens", "batch_id", "status", "error"}  # fmt: skip
    assert ReviewWidget(frame, label_columns=["phase", "sentiment"]).overview["label_columns"] == [
        "sentiment"
    ]


def test_static_charts_share_one_scale():
    from dw_notebook.widgets.review_summary import review_html

    dists = [
        {"column": "operation", "values": [{"label": "query", "count": 148}]},
        {"column": "mentions_errors", "values": [{"label": "false", "count": 200}]},
    ]
    hists = [{"column": "confidence", "bins": [{"label": "0–1", "count": 116}]}]
    html = review_html({"rows": 290, "by_status": {"ok": 290}}, dists, hists, [])
    assert "width:74.0%" in html and "width:100.0%" in html and "width:58.0%" in html
