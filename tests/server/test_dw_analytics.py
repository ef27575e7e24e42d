"""Doubleword analytics: the only place tokens and cost come from (no usage on batch objects)."""

from __future__ import annotations

from decimal import Decimal

from server_support import CHAT, chat_line

from dw_notebook.server.backends import MockBackend

PRICED = "Qwen/Qwen3-14B-FP8"  # 24h: 0.02 in, 0.20 out per 1M tokens
ZERO = {"total_requests": 0, "total_prompt_tokens": 0, "total_completion_tokens": 0,
        "total_tokens": 0}  # fmt: skip


def _expected(lines: list[dict], mock: MockBackend) -> tuple[int, int, int]:
    """(requests, prompt tokens, completion tokens) of the lines the mock answers 200."""
    answers = [mock.respond(CHAT, x["body"]) for x in lines]
    ok = [body["usage"] for status, body in answers if status == 200]
    return len(ok), sum(u["prompt_tokens"] for u in ok), sum(u["completion_tokens"] for u in ok)


def test_analytics_sum_tokens_and_price_of_completed_requests_only(make_api):
    options = {"failure_rate": 0.3}
    api = make_api(dialect="doubleword", backend_options=options, max_attempts=1)
    lines = [chat_line(i, model=PRICED) for i in range(30)]
    done = api.wait(api.submit(lines)["id"])
    assert "usage" not in done and "model" not in done
    resp = api.http.get(f"/batches/{done['id']}/analytics")
    assert resp.status_code == 200
    got = resp.json()
    n, tokens_in, tokens_out = _expected(lines, MockBackend(**options))
    assert 0 < n < 30 and got["total_requests"] == n == done["request_counts"]["completed"]
    assert got["total_prompt_tokens"] == tokens_in
    assert got["total_completion_tokens"] == tokens_out
    assert got["total_tokens"] == tokens_in + tokens_out
    cost = (Decimal("0.02") * tokens_in + Decimal("0.20") * tokens_out) / 1_000_000
    assert isinstance(got["total_cost"], str) and Decimal(got["total_cost"]) == cost
    assert len(got["total_cost"].split(".")[1]) == 15  # DECIMAL(24, 15) in the ledger
    assert Decimal(got["total_list_cost"]) == cost
    assert got["avg_duration_ms"] >= 0
    assert set(got) == {*ZERO, "avg_duration_ms", "total_cost", "total_list_cost"}


def test_analytics_before_any_answer_are_zeros_without_cost_fields(make_api):
    api = make_api(dialect="doubleword", validation_delay=60)
    batch = api.submit([chat_line(1, model=PRICED)])
    assert api.http.get(f"/batches/{batch['id']}/analytics").json() == ZERO


def test_a_model_without_a_tariff_costs_zero(make_api):
    api = make_api(dialect="doubleword")
    done = api.wait(api.submit([chat_line(i) for i in range(3)])["id"])
    got = api.http.get(f"/batches/{done['id']}/analytics").json()
    assert got["total_requests"] == 3 and got["total_tokens"] > 0
    assert Decimal(got["total_cost"]) == 0 and got["total_list_cost"] == "0"


def test_list_include_analytics_adds_them_to_each_batch_but_a_single_get_ignores_it(make_api):
    api = make_api(dialect="doubleword")
    done = api.wait(api.submit([chat_line(i, model=PRICED) for i in range(4)])["id"])
    alone = api.http.get(f"/batches/{done['id']}/analytics").json()
    page = api.http.get("/batches", params={"include": "analytics"}).json()
    assert page["data"][0]["id"] == done["id"] and page["data"][0]["analytics"] == alone
    plain = api.http.get("/batches").json()["data"][0]
    assert "analytics" not in plain
    # get_batch takes no query: include=analytics is not read there
    assert "analytics" not in api.http.get(f"/batches/{done['id']}?include=analytics").json()


def test_openai_dialect_keeps_usage_and_has_no_analytics_route(make_api):
    api = make_api(dialect="openai")
    done = api.wait(api.submit([chat_line(i) for i in range(2)])["id"])
    assert done["usage"]["input_tokens"] > 0 and done["model"] == "mock"
    assert api.http.get(f"/batches/{done['id']}/analytics").status_code == 404
