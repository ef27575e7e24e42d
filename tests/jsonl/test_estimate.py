"""Cost estimate: prompt tokens (not the request wrapper or the schema) from bytes / 4, output
bounded by max_tokens, prices as data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dw_notebook.jsonl.requests import build_requests
from dw_notebook.jsonl.requests.estimate import estimate_cost
from dw_notebook.prices import ENV_VAR, Price, load_prices, price_for

MODEL = "Qwen/Qwen3-14B-FP8"


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({"t": ["short", "a much longer review " * 20, "mid length text" * 3]})


def _prompt_tokens(built) -> np.ndarray:
    """Per request: the bytes of its messages as sent, ÷ 4 rounded up (parsed line by line)."""
    sizes = [
        len(
            json.dumps(
                json.loads(line)["body"]["messages"], separators=(",", ":"), ensure_ascii=False
            ).encode()
        )
        for line in built.data.splitlines()
    ]
    return -(-np.array(sizes) // 4)  # fmt: skip


def test_input_is_prompt_bytes_over_four_and_output_is_one_point_two_times_input(frame):
    built = build_requests(frame, model=MODEL, prompt="{t}")
    est = estimate_cost(built, window="24h")
    per_input = _prompt_tokens(built)
    assert est.input_tokens == per_input.sum()
    assert est.output_tokens == np.floor(per_input * 1.2).astype(int).sum()
    assert not est.output_capped
    assert est.price == Price(0.02, 0.20)
    assert est.usd == pytest.approx(est.input_tokens * 0.02e-6 + est.output_tokens * 0.20e-6)


def test_max_tokens_bounds_the_output_of_each_request(frame):
    built = build_requests(frame, model=MODEL, prompt="{t}", max_tokens=30)
    est = estimate_cost(built, window="1h")
    per_input = _prompt_tokens(built)
    assert est.output_tokens == np.minimum(np.floor(per_input * 1.2), 30).sum()
    assert est.output_capped
    assert est.price == Price(0.03, 0.30)
    assert "capped by max_tokens" in str(est)


def test_embeddings_have_no_output_tokens(frame):
    built = build_requests(
        frame, model="Qwen/Qwen3-Embedding-8B", endpoint="embeddings", input_column="t"
    )
    est = estimate_cost(built)
    assert est.output_tokens == 0
    assert est.usd == pytest.approx(est.input_tokens * 0.02e-6)


def test_unknown_model_has_no_price_and_says_so(frame):
    est = estimate_cost(build_requests(frame, model="some/unpriced-model", prompt="{t}"))
    assert est.price is None and est.usd is None and est.input_usd is None
    assert "cost unknown" in str(est) and "'some/unpriced-model'" in str(est)
    assert est.input_tokens > 0
    assert "cost unknown" in est._repr_html_()
    simulated = estimate_cost(build_requests(frame, model="mock", prompt="{t}"))
    assert str(simulated).startswith("cost n/a: 'mock' is the local server's simulated model")


def test_prices_can_be_overridden_per_call(frame):
    built = build_requests(frame, model="mock", prompt="{t}")
    est = estimate_cost(built, prices={"mock": {"24h": [1.0, 2.0]}})
    assert est.usd == pytest.approx((est.input_tokens + 2 * est.output_tokens) / 1e6)
    assert str(est).startswith("≈ $")


def test_price_table_can_be_refreshed_from_a_file(tmp_path, monkeypatch):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"models": {"new/model": {"24h": {"input": 0.5, "output": 1}}}}))
    monkeypatch.setenv(ENV_VAR, str(path))
    assert price_for("new/model") == Price(0.5, 1.0)
    assert price_for(MODEL) is None
    monkeypatch.delenv(ENV_VAR)
    assert price_for(MODEL, "1h") == Price(0.03, 0.30)


def test_bundled_table_holds_every_published_model():
    table = load_prices()
    assert len(table) == 10
    assert table["Qwen/Qwen3.5-397B-A17B"]["1h"] == Price(0.30, 1.80)
    assert table["openai/gpt-oss-20b"]["24h"] == Price(0.02, 0.15)


def test_unknown_window_is_refused(frame):
    with pytest.raises(ValueError, match="window"):
        estimate_cost(build_requests(frame, model=MODEL, prompt="{t}"), window="2h")


def test_the_wrapper_and_the_schema_are_not_prompt_tokens(frame):
    """A short prompt with a large schema: the old bytes ÷ 4 of the whole line counted the
    schema and the wrapper in every line, several times the prompt."""
    schema = {
        "type": "object",
        "properties": {f"field_{i}": {"type": "string", "description": "x" * 60} for i in range(8)},
        "required": [f"field_{i}" for i in range(8)],
        "additionalProperties": False,
    }
    built = build_requests(frame, model=MODEL, prompt="{t}", response_format=schema,
                           system="You label reviews.")  # fmt: skip
    est = estimate_cost(built)
    assert est.input_tokens == _prompt_tokens(built).sum()
    whole_lines = sum(len(line) for line in built.data.splitlines()) // 4
    assert whole_lines > 3 * est.input_tokens
    with_schema = estimate_cost(built, schema_in_prompt=True)
    schema_bytes = len(json.dumps(json.loads(built.line(0))["body"]["response_format"],
                                  separators=(",", ":")))  # fmt: skip
    assert with_schema.input_tokens - est.input_tokens == pytest.approx(
        built.n * schema_bytes / 4, abs=built.n
    )


def test_lines_that_differ_beyond_the_prompt_are_measured_one_by_one(frame):
    from dw_notebook.jsonl.requests.estimate import prompt_bytes

    built = build_requests(frame, model=MODEL, prompt="{t}")
    lines = built.data.splitlines()
    body = json.loads(lines[-1])
    body["body"]["temperature"] = 0.5  # the last line has one more parameter
    lines[-1] = json.dumps(body, separators=(",", ":")).encode()
    data = b"\n".join(lines) + b"\n"
    offsets = np.concatenate([[0], np.cumsum([len(line) + 1 for line in lines])])
    changed = type(built)(data=data, line_offsets=offsets, endpoint=built.endpoint,
                          model=built.model, params=built.params, custom_ids=built.custom_ids,
                          positions=built.positions, row_ids=built.row_ids, schema=None,
                          skipped=[], n_rows=built.n_rows)  # fmt: skip
    assert prompt_bytes(changed).tolist() == prompt_bytes(built).tolist()
