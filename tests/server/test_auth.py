"""Bearer auth on the API, a separate admin token, and no token in reprs."""

from __future__ import annotations

import httpx


def test_api_needs_the_bearer_token(make_server, any_dialect):
    srv = make_server(dialect=any_dialect, token="t0ken-for-test")
    assert srv.token == "t0ken-for-test"
    url = srv.base_url + "/batches"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": "t0ken-for-test"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer t0ken-for-test"}).status_code == 200


def test_default_tokens_are_random_and_distinct(make_server):
    a, b = make_server(), make_server()
    assert a.token != b.token and len(a.token) >= 20
    assert a.admin_token != a.token


def test_admin_route_refuses_the_api_token_and_the_api_refuses_the_admin_token(make_server):
    srv = make_server(dialect="openai")
    admin = srv.base_url.removesuffix("/v1") + "/admin/faults"
    api_auth = {"Authorization": f"Bearer {srv.token}"}
    admin_auth = {"Authorization": f"Bearer {srv.admin_token}"}
    assert httpx.post(admin, json={"kind": "rate_limit"}, headers=api_auth).status_code == 401
    assert httpx.get(srv.base_url + "/models", headers=admin_auth).status_code == 401
    assert httpx.get(admin, headers=admin_auth).status_code == 200


def test_repr_does_not_show_the_tokens(make_server):
    srv = make_server()
    text = repr(srv) + str(srv)
    assert srv.token not in text and srv.admin_token not in text
    assert srv.base_url in text


def test_server_binds_loopback_by_default(make_server):
    srv = make_server()
    assert srv.base_url.startswith("http://127.0.0.1:")
