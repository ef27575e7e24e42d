"""Every endpoint Doubleword batches works end to end: build, local server, join into columns."""

from __future__ import annotations

import pandas as pd
import pytest

import dw_notebook as dw
from dw_notebook.errors import BadRequestError
from dw_notebook.jsonl.requests import build_requests

DF = pd.DataFrame({"text": ["A calm day.", "I hate this!", "Fine.", "What now?"]})


def _first_body(built) -> dict:
    return built.preview(1)[0]["body"]


def test_bodies_of_each_endpoint():
    assert _first_body(build_requests(DF, model="m", prompt="{text}", endpoint="responses")) == {
        "model": "m",
        "input": "A calm day.",
    }
    moderation = build_requests(DF, model="m", input_column="text", endpoint="moderations")
    assert moderation.endpoint == "/v1/moderations" and _first_body(moderation)["input"]
    completion = build_requests(DF, model="m", prompt="Q: {text}\nA:", endpoint="completions")
    assert _first_body(completion)["prompt"] == "Q: A calm day.\nA:"


@pytest.mark.parametrize(
    ("endpoint", "options"),
    [
        ("completions", {"prompt": "Q: {text}\nA:"}),
        ("responses", {"prompt": "Answer: {text}", "max_output_tokens": 50}),
        ("moderations", {"input_column": "text"}),
    ],
)
def test_each_endpoint_runs_end_to_end(conn, server, endpoint, options):
    if endpoint == "moderations" and server.dialect == "doubleword":
        pytest.skip("Doubleword does not batch moderations: test_moderations_are_refused_...")
    job = dw.submit(DF, model="mock", endpoint=endpoint, **options, **conn)
    out = job.join(timeout=30)
    assert out["status"].eq("ok").all(), out["error"].tolist()
    assert out["content"].notna().all()
    if endpoint != "moderations":  # moderation objects carry no usage
        assert out["prompt_tokens"].notna().all()
    if endpoint == "responses":
        assert out["content"].isin(["positive", "negative", "neutral"]).all()
        assert out["finish_reason"].eq("stop").all()
        assert out["completion_tokens"].notna().all()
    if endpoint == "moderations":
        assert str(out["flagged"].dtype) == "boolean" and out["flagged"].notna().all()
        flagged = out[out["flagged"]]
        assert all(len(names) > 0 for names in flagged["categories"])
        assert all(names == [] for names in out.loc[~out["flagged"], "categories"])


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_moderations_are_refused_at_upload_by_doubleword(conn):
    # /v1/moderations is not among Doubleword's allowed url paths
    job = dw.submit(DF, model="mock", endpoint="moderations", input_column="text", **conn)
    with pytest.raises(BadRequestError, match="/v1/moderations"):
        job.join(timeout=30)
