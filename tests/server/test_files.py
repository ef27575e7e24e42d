"""Files: streamed upload with a size limit, retrieve, list, delete, and path safety."""

from __future__ import annotations

import httpx
import pytest
from server_support import chat_line, jsonl


def test_upload_over_the_limit_is_refused_with_413_and_nothing_is_kept(make_api, any_dialect):
    api = make_api(dialect=any_dialect, max_file_bytes=4096)
    big = jsonl([chat_line(i) for i in range(200)])
    assert len(big) > 4096
    resp = api.upload([chat_line(i) for i in range(200)])
    assert resp.status_code == 413
    assert api.http.get("/files").json()["data"] == []
    assert list((api.srv.data_dir / "files").iterdir()) == []


def test_upload_limit_is_enforced_while_streaming_without_content_length(make_api):
    api = make_api(dialect="openai", max_file_bytes=4096)
    boundary = "xyzzy"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n'
        "Content-Type: application/jsonl\r\n\r\n"
    ).encode()
    sent = []

    def body():  # chunked: the server cannot know the size in advance
        yield head
        for i in range(100):
            sent.append(i)
            yield jsonl([chat_line(i)])
        yield f"\r\n--{boundary}--\r\n".encode()

    resp = api.http.post(
        "/files",
        content=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert resp.status_code == 413
    assert list((api.srv.data_dir / "files").iterdir()) == []


def test_upload_needs_purpose_batch_and_a_file_part(make_api, any_dialect):
    api = make_api(dialect=any_dialect)
    resp = api.http.post(
        "/files", files={"file": ("a.jsonl", jsonl([chat_line(1)]))}, data={"purpose": "x"}
    )
    assert resp.status_code == 400
    resp = api.http.post("/files", files={"other": ("a.jsonl", b"x")}, data={"purpose": "batch"})
    assert resp.status_code == 400
    resp = api.http.post("/files", content=b"{}", headers={"Content-Type": "application/json"})
    assert resp.status_code == 400


def test_file_object_and_content_round_trip(make_api, any_dialect):
    api = make_api(dialect=any_dialect)
    data = jsonl([chat_line(i) for i in range(3)])
    up = api.upload([chat_line(i) for i in range(3)], filename="reviews.jsonl").json()
    got = api.http.get(f"/files/{up['id']}").json()
    assert got["filename"] == "reviews.jsonl" and got["bytes"] == len(data)
    assert got["object"] == "file" and got["purpose"] == "batch"
    assert got["expires_at"] > got["created_at"]
    assert api.http.get(f"/files/{up['id']}/content").content == data


def test_list_files_pages_with_after_limit_order_and_purpose(make_api, any_dialect):
    api = make_api(dialect=any_dialect)
    ids = [api.upload([chat_line(i)]).json()["id"] for i in range(5)]
    page = api.http.get("/files", params={"limit": 2}).json()
    assert [f["id"] for f in page["data"]] == ids[::-1][:2]
    assert page["has_more"] and page["first_id"] == ids[-1] and page["last_id"] == ids[-2]
    nxt = api.http.get("/files", params={"limit": 2, "after": page["last_id"]}).json()
    assert [f["id"] for f in nxt["data"]] == ids[::-1][2:4]
    asc = api.http.get("/files", params={"order": "asc", "limit": 10}).json()
    assert [f["id"] for f in asc["data"]] == ids and not asc["has_more"]
    assert api.http.get("/files", params={"purpose": "batch_output"}).json()["data"] == []
    assert api.http.get("/files", params={"limit": 0}).status_code == 400


def test_delete_removes_the_file_and_its_bytes(make_api, any_dialect):
    api = make_api(dialect=any_dialect)
    fid = api.upload([chat_line(1)]).json()["id"]
    resp = api.http.delete(f"/files/{fid}")
    assert resp.status_code == 200
    assert resp.json() == {"id": fid, "object": "file", "deleted": True}
    assert api.http.get(f"/files/{fid}").status_code == 404
    assert api.http.delete(f"/files/{fid}").status_code == 404
    assert list((api.srv.data_dir / "files").iterdir()) == []


def test_deleting_the_input_of_a_running_batch_is_refused_by_doubleword_only(make_api):
    api = make_api(dialect="doubleword", validation_delay=60)
    batch = api.submit([chat_line(1)])
    assert api.http.delete(f"/files/{batch['input_file_id']}").status_code == 409
    openai = make_api(dialect="openai", validation_delay=60)  # OpenAI allows it
    batch = openai.submit([chat_line(1)])
    assert openai.http.delete(f"/files/{batch['input_file_id']}").status_code == 200


@pytest.mark.parametrize(
    "name",
    ["..%2F..%2Fstate.sqlite3", "..", "%2e%2e", "a.b", "..%5Cstate", "%00", "file-x%2F..%2F.."],
)
def test_ids_cannot_reach_outside_the_data_dir(make_api, name):
    api = make_api(dialect="openai")
    for path in (f"/files/{name}", f"/files/{name}/content"):
        resp = api.http.get(httpx.URL(api.srv.base_url + path))
        assert resp.status_code == 404
        assert b"SQLite" not in resp.content
    resp = api.http.delete(httpx.URL(api.srv.base_url + f"/files/{name}"))
    assert resp.status_code in (404, 405)
    assert (api.srv.data_dir / "state.sqlite3").exists()


def test_a_hostile_filename_is_only_metadata(make_api):
    api = make_api(dialect="openai")
    up = api.upload([chat_line(1)], filename="../../escape.jsonl").json()
    assert up["filename"] == "../../escape.jsonl"
    assert not (api.srv.data_dir.parent / "escape.jsonl").exists()
    assert [p.name for p in (api.srv.data_dir / "files").iterdir()] == [f"{up['id']}.jsonl"]


def test_a_declared_oversize_upload_gets_413_not_a_broken_pipe(make_api):
    api = make_api(dialect="doubleword", max_file_bytes=1024)
    big = b'{"custom_id":"x"}\n' * 200_000  # 3.6 MB, far past the limit and its slack
    resp = api.http.post("/files", files={"file": ("big.jsonl", big)}, data={"purpose": "batch"})
    assert resp.status_code == 413
    assert resp.text == "File exceeds the maximum allowed size of 1024 bytes"


def test_more_than_50000_requests_fail_an_openai_batch_but_doubleword_has_no_cap(make_api):
    line = (
        b'{"custom_id":"r%d","method":"POST","url":"/v1/embeddings",'
        b'"body":{"model":"mock","input":"x"}}'
    )
    data = b"\n".join(line % i for i in range(50_001))
    form = {"files": {"file": ("many.jsonl", data)}, "data": {"purpose": "batch"}}
    dw = make_api(dialect="doubleword")
    assert dw.http.post("/files", **form).status_code == 201
    openai = make_api(dialect="openai")
    up = openai.http.post("/files", **form).json()
    failed = openai.wait(openai.create(up["id"], endpoint="/v1/embeddings")["id"])
    assert failed["status"] == "failed"
    assert "50000" in failed["errors"]["data"][0]["message"]
