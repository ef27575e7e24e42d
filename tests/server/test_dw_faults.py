"""Faults with Doubleword's shapes: 429 for a while on one route, 402 at create, a read-path
outage (404 on known ids), all reachable through the admin route too."""

from __future__ import annotations

import httpx
from server_support import CHAT, chat_line


def _admin(srv) -> httpx.Client:
    return httpx.Client(
        base_url=srv.base_url.removesuffix("/v1"),
        headers={"Authorization": f"Bearer {srv.admin_token}"},
    )


def test_rate_limit_for_some_seconds_on_one_route_with_retry_after_60(make_api):
    api = make_api(dialect="doubleword")
    api.srv.faults.rate_limit(seconds=120, retry_after=60, path="/v1/batches")
    for _ in range(3):  # every request while it lasts, not a count
        resp = api.http.get("/batches")
        assert resp.status_code == 429 and resp.headers["Retry-After"] == "60"
        assert resp.json()["error"] == "too_many_requests"
    assert api.http.get("/files").status_code == 200  # other routes answer
    api.srv.clock.advance(120)
    assert api.http.get("/batches").status_code == 200


def test_capacity_refuses_batch_creates_with_retry_after_60_until_it_ends(make_api):
    api = make_api(dialect="doubleword")
    up = api.upload([chat_line(1)]).json()
    api.srv.faults.capacity(seconds=600)
    body = {"input_file_id": up["id"], "endpoint": CHAT, "completion_window": "24h"}
    for _ in range(2):
        resp = api.http.post("/batches", json=body)
        assert resp.status_code == 429 and resp.headers["Retry-After"] == "60"
        assert resp.json()["retry_after_seconds"] == 30
        assert resp.json()["message"].startswith("Insufficient capacity for 24h completion")
    assert api.http.get("/batches").json()["data"] == []
    api.srv.clock.advance(600)
    assert api.http.post("/batches", json=body).status_code == 201


def test_payment_required_refuses_batch_create_only_and_creates_nothing(make_api):
    api = make_api(dialect="doubleword")
    up = api.upload([chat_line(1)]).json()
    api.srv.faults.payment_required(count=1)
    body = {"input_file_id": up["id"], "endpoint": CHAT, "completion_window": "24h"}
    resp = api.http.post("/batches", json=body)
    assert resp.status_code == 402
    assert resp.text == "Account balance too low. Please add credits to continue."
    assert api.http.get("/batches").json()["data"] == []
    assert api.http.post("/batches", json=body).status_code == 201  # count=1: spent
    api.srv.faults.payment_required(count=1, spend_cap=True)
    capped = api.http.post("/batches", json=body)
    assert capped.status_code == 402 and "spending cap" in capped.text


def test_read_outage_answers_404_for_known_ids_while_creates_work(make_api):
    api = make_api(dialect="doubleword")
    done = api.wait(api.submit([chat_line(1)])["id"])
    api.srv.faults.read_outage(seconds=60)
    batch = api.http.get(f"/batches/{done['id']}")
    assert batch.status_code == 404
    assert batch.text == f"Batch with ID {done['id']} not found"
    for path in (
        f"/files/{done['output_file_id']}",
        f"/files/{done['output_file_id']}/content",
        f"/batches/{done['id']}/analytics",
    ):
        assert api.http.get(path).status_code == 404, path
    up = api.upload([chat_line(2)])
    assert up.status_code == 201
    created = api.http.post(
        "/batches",
        json={"input_file_id": up.json()["id"], "endpoint": CHAT, "completion_window": "24h"},
    )
    assert created.status_code == 201
    api.srv.clock.advance(60)
    assert api.http.get(f"/batches/{done['id']}").status_code == 200
    assert api.http.get(f"/batches/{created.json()['id']}").status_code == 200


def test_admin_route_takes_the_new_faults(make_api):
    api = make_api(dialect="doubleword")
    admin = _admin(api.srv)
    done = api.wait(api.submit([chat_line(1)])["id"])
    for spec in (
        {"kind": "read_outage", "seconds": 30},
        {"kind": "payment_required", "count": 1, "path": "/v1/batches", "method": "POST",
         "exact": True},
        {"kind": "late_completion", "requests": 2, "delay": 5},
        {"kind": "rate_limit", "seconds": 30, "retry_after": 60, "path": "/v1/models"},
    ):  # fmt: skip
        assert admin.post("/admin/faults", json=spec).status_code == 201, spec
    kinds = [r["kind"] for r in admin.get("/admin/faults").json()["rules"]]
    assert kinds == ["read_outage", "payment_required", "late_completion", "rate_limit"]
    assert api.http.get(f"/batches/{done['id']}").status_code == 404
    assert api.http.get("/models").headers["Retry-After"] == "60"
    up = api.upload([chat_line(2)]).json()
    body = {"input_file_id": up["id"], "endpoint": CHAT, "completion_window": "24h"}
    assert api.http.post("/batches", json=body).status_code == 402
    admin.post("/admin/clock/advance", json={"seconds": 30})
    assert [r["kind"] for r in admin.get("/admin/faults").json()["rules"]] == ["late_completion"]
    admin.close()
