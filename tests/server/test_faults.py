"""Fault switchboard: 429, 5xx, dropped connections, slow answers; from Python and admin HTTP."""

from __future__ import annotations

import time

import httpx
import openai
import pytest


def _client(srv):
    return httpx.Client(base_url=srv.base_url, headers={"Authorization": f"Bearer {srv.token}"})


def test_rate_limit_for_the_next_n_requests_then_normal(make_server):
    srv = make_server(dialect="openai")
    srv.faults.rate_limit(count=2, retry_after=3)
    with _client(srv) as http:
        codes = [http.get("/models").status_code for _ in range(4)]
        assert codes == [429, 429, 200, 200]
        srv.faults.rate_limit(count=1, retry_after=3)
        resp = http.get("/models")
    assert resp.headers["Retry-After"] == "3"
    assert resp.json()["error"]["type"] == "rate_limit_exceeded"
    assert srv.faults.fired == 3


def test_server_errors_for_a_fraction_of_requests(make_server):
    srv = make_server()
    srv.faults.server_error(status=500, fraction=0.5)
    with _client(srv) as http:
        codes = [http.get("/models").status_code for _ in range(200)]
    assert set(codes) == {200, 500}
    assert 60 < codes.count(500) < 140


def test_faults_can_target_one_path(make_server):
    srv = make_server()
    srv.faults.server_error(status=503, count=5, path="/v1/batches")
    with _client(srv) as http:
        assert http.get("/models").status_code == 200
        assert http.get("/batches").status_code == 503


def test_dropped_connection_cuts_the_body_short(make_server):
    srv = make_server()
    srv.faults.drop_connection(count=1)
    with _client(srv) as http:
        with pytest.raises(httpx.HTTPError):
            http.get("/models")
        assert http.get("/models").status_code == 200  # the next request is fine


def test_slow_responses_are_delayed(make_server):
    srv = make_server()
    srv.faults.slow(delay=0.3, count=1)
    with _client(srv) as http:
        t0 = time.perf_counter()
        assert http.get("/models").status_code == 200
        slow = time.perf_counter() - t0
        t0 = time.perf_counter()
        http.get("/models")
        fast = time.perf_counter() - t0
    assert slow >= 0.3 > fast


def test_admin_route_injects_lists_and_clears_faults(make_server):
    srv = make_server(dialect="openai")
    admin = httpx.Client(
        base_url=srv.base_url.removesuffix("/v1"),
        headers={"Authorization": f"Bearer {srv.admin_token}"},
    )
    resp = admin.post("/admin/faults", json={"kind": "server_error", "status": 503, "count": 2})
    assert resp.status_code == 201
    assert [r["kind"] for r in admin.get("/admin/faults").json()["rules"]] == ["server_error"]
    with _client(srv) as http:
        assert http.get("/models").status_code == 503
        admin.delete("/admin/faults")
        assert http.get("/models").status_code == 200
    assert admin.post("/admin/faults", json={"kind": "meteor"}).status_code == 400
    before = srv.clock.now()
    assert admin.post("/admin/clock/advance", json={"seconds": 3600}).status_code == 200
    assert srv.clock.now() - before >= 3600
    admin.close()


def test_sdk_retries_through_a_429_storm(make_server):
    srv = make_server(dialect="openai")
    srv.faults.rate_limit(count=2, retry_after=0.05)  # the SDK honours retry-after-ms
    client = openai.OpenAI(base_url=srv.base_url, api_key=srv.token, max_retries=3)
    assert any(m.id == "mock" for m in client.models.list())
    assert srv.faults.fired == 2
    client.close()
