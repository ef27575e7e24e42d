"""Doubleword batch create checks and list (search, active_first, cursor and limit), as the
control layer's create_batch and list_batches do them."""

from __future__ import annotations

import uuid

from server_support import CHAT, chat_line


def test_create_checks_as_the_control_layer_and_keeps_metadata_as_sent(make_api):
    api = make_api(dialect="doubleword")
    fid = api.upload([chat_line(1)]).json()["id"]
    base = {"input_file_id": fid, "endpoint": CHAT, "completion_window": "24h"}
    for bad, status, text in (
        ({"endpoint": "/v1/moderations"}, 400, "Unsupported endpoint '/v1/moderations'."),
        ({"completion_window": "7d"}, 400, "Unsupported completion_window."),
        ({"metadata": {"k": 1}}, 422, "Failed to deserialize the JSON body"),
        ({"input_file_id": "nope"}, 400, "Invalid input_file_id format"),
    ):
        resp = api.http.post("/batches", json={**base, **bad})
        assert resp.status_code == status and resp.text.startswith(text), (bad, resp.text)
    missing = str(uuid.uuid4())
    resp = api.http.post("/batches", json={**base, "input_file_id": missing})
    assert resp.status_code == 404 and resp.text == f"File with ID {missing} not found"
    assert api.http.get("/batches").json()["data"] == []  # no refusal wrote anything
    many = {f"key{i}": "v" * 600 for i in range(20)}  # no limit on keys or lengths
    made = api.create(fid, metadata={**many, "Request-Source": "mine", "created_by": "x"})
    assert made["metadata"] == {**many, "request_source": "api"}  # reserved keys dropped


def test_search_matches_metadata_text_input_file_name_or_id_case_insensitively(make_api):
    api = make_api(dialect="doubleword", validation_delay=100)
    reviews = api.upload([chat_line(1)], filename="Reviews-March.jsonl").json()["id"]
    other = api.upload([chat_line(1)], filename="other.jsonl").json()["id"]
    tagged = api.create(other, metadata={"project": "Alpha_Run"})
    named = api.create(reviews)
    plain = api.create(other)

    def found(text: str) -> list[str]:
        return [b["id"] for b in api.http.get("/batches", params={"search": text}).json()["data"]]

    assert found("alpha_run") == [tagged["id"]]
    assert found("PROJECT") == [tagged["id"]]  # keys are in the metadata text too
    assert found("reviews-march") == [named["id"]]
    assert found(plain["id"][:13].upper()) == [plain["id"]]  # the search is lower-cased
    assert found("alpha%run") == [tagged["id"]]  # LIKE wildcards are not escaped
    assert len(found("api")) == 3  # every batch's metadata says request_source: api


def test_active_first_lists_running_batches_before_ended_ones_across_pages(make_api):
    api = make_api(dialect="doubleword", validation_delay=100)
    fid = api.upload([chat_line(1)]).json()["id"]
    ids = [api.create(fid)["id"] for _ in range(4)]  # all validating, i.e. active
    for bid in (ids[1], ids[3]):
        api.http.post(f"/batches/{bid}/cancel")  # cancelling: not active any more
    newest = [ids[3], ids[2], ids[1], ids[0]]
    assert [b["id"] for b in api.http.get("/batches").json()["data"]] == newest
    first = api.http.get("/batches", params={"active_first": "true", "limit": 3}).json()
    assert [b["id"] for b in first["data"]] == [ids[2], ids[0], ids[3]] and first["has_more"]
    rest = api.http.get(
        "/batches", params={"active_first": "true", "limit": 3, "after": first["last_id"]}
    ).json()
    assert [b["id"] for b in rest["data"]] == [ids[1]] and not rest["has_more"]
    unknown = api.http.get("/batches", params={"after": str(uuid.uuid4()), "limit": 2}).json()
    assert [b["id"] for b in unknown["data"]] == newest[:2]  # an unknown cursor is ignored
