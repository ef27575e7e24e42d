"""Interop corpus: the whole flow (submit, poll, join) against every shape real implementations
write, through a proxy that rewrites the local server's answers, asserted row by row against the
same job read straight from the server."""

from __future__ import annotations

import pandas as pd
import pytest
from support.proxy import FaultProxy
from support.shapes import SHAPES, Shape, install

import dw_notebook as dw
from dw_notebook.client import BatchClient
from dw_notebook.jsonl.results import join_results

DF = pd.DataFrame({"text": [f"item {i}" for i in range(16)]}, index=[f"k{i}" for i in range(16)])


@pytest.fixture
def flaky(make_server):
    """Some requests fail for good, so error lines are in every shape too."""
    return make_server(rate=None, backend_options={"failure_rate": 0.3}, max_attempts=1)


def _truth(server, job) -> pd.DataFrame:
    """The job's rows as the local server itself wrote them, no proxy in between."""
    outputs, errors = [], []
    with BatchClient(server.base_url, server.token) as client:
        for batch_id in job.batch_ids:
            batch = client.get_batch(batch_id)
            for kind, into in (("output_file_id", outputs), ("error_file_id", errors)):
                if batch[kind]:
                    into.append((batch_id, client.file_content(batch[kind]).data))
    return join_results(DF, job.built, outputs=outputs, errors=errors)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
def test_every_shape_joins_row_by_row(flaky, shape: Shape):
    with FaultProxy(flaky.base_url) as proxy:
        install(proxy, shape)
        job = dw.submit(DF, "Echo: {text}", model="mock", name=shape.name,
                        api_key=flaky.token, base_url=proxy.base_url)  # fmt: skip
        out = job.join(timeout=60)
    truth = _truth(flaky, job)
    assert out.attrs["dw_unreadable_count"] == 0 and out.attrs["dw_malformed_count"] == 0
    if shape.failed_validation:
        assert out["status"].eq("failed").all()
        assert "invalid_json_line" in out["error"].iloc[1]
        assert "(input line 2)" in out["error"].iloc[1]
        others = out["error"].drop(index="k1")
        assert others.str.contains("token_limit_exceeded").all()
        return
    assert truth["status"].eq("failed").any() and truth["status"].eq("ok").any()
    for label in DF.index:
        got, want = out.loc[label], truth.loc[label]
        assert got["status"] == want["status"], label
        if want["status"] == "ok":
            assert got["content"] == want["content"], label
            assert got["prompt_tokens"] == want["prompt_tokens"], label
            assert pd.isna(got["error"]), label
        else:
            assert isinstance(got["error"], str) and got["error"], label
            assert pd.isna(got["content"]), label
