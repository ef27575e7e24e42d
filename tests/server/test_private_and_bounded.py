"""The local server and the registry keep their files owner-only, and an upload can neither
pass the size limit with form fields nor hold the server with a body that never ends."""

from __future__ import annotations

import socket
import stat

import httpx

import dw_notebook as dw
from dw_notebook.datasets import sample_reviews
from dw_notebook.job.registry import Registry

LINE = (
    b'{"custom_id":"a","method":"POST","url":"/v1/chat/completions",'
    b'"body":{"model":"mock","messages":[{"role":"user","content":"hi"}]}}\n'
)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_the_package_writes_are_owner_only(make_server, tmp_path):
    srv = make_server(data_dir=tmp_path / "new-data")
    job = dw.submit(sample_reviews(5), "Say: {review}", model="mock",
                    api_key=srv.token, base_url=srv.base_url)  # fmt: skip
    job.join(timeout=30)
    data = tmp_path / "new-data"
    assert _mode(data) == 0o700 and _mode(data / "files") == 0o700
    written = [p for p in data.rglob("*") if p.is_file()]
    assert any(p.suffix == ".jsonl" for p in written) and any(".sqlite3" in p.name for p in written)
    assert {p.name: _mode(p) for p in written} == {p.name: 0o600 for p in written}
    registry = Registry()
    assert _mode(registry.path.parent) == 0o700
    files = [p for p in registry.path.parent.glob("registry.sqlite3*")]
    assert files and all(_mode(p) == 0o600 for p in files)


def test_the_size_limit_counts_the_whole_body_not_only_the_file(make_server):
    srv = make_server(max_file_bytes=10_000, dialect="openai")
    fields = {"purpose": "batch", **{f"pad{i}": "x" * 1000 for i in range(200)}}
    answer = httpx.post(f"{srv.base_url}/files", headers={"Authorization": f"Bearer {srv.token}"},
                        files={"file": ("a.jsonl", LINE)}, data=fields)  # fmt: skip
    assert answer.status_code == 413
    assert "larger than the limit" in answer.text
    listed = httpx.get(f"{srv.base_url}/files", headers={"Authorization": f"Bearer {srv.token}"})
    assert listed.json()["data"] == []


def test_an_upload_that_stalls_is_refused_with_408(make_server):
    srv = make_server(upload_timeout=0.3, dialect="doubleword")
    head = (
        f"POST /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {srv.token}\r\n"
        "Content-Type: multipart/form-data; boundary=BB\r\nContent-Length: 5000\r\n\r\n"
        '--BB\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n'
    ).encode()
    with socket.create_connection((srv.host, srv.port), timeout=20) as sock:
        sock.sendall(head + LINE)  # ... and nothing more
        answer = b""
        while b"stalled" not in answer and (chunk := sock.recv(4096)):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"stalled" in answer


def _stalled_answer(srv, path: str, token: str) -> bytes:
    """Send headers promising 5000 bytes, then a few bytes, and read what comes back."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n"
    ).encode()
    with socket.create_connection((srv.host, srv.port), timeout=20) as sock:
        sock.sendall(head + b'{"input_file_id": ')  # ... and nothing more
        answer = b""
        while chunk := sock.recv(4096):  # the server closes the connection after its answer
            answer += chunk
    return answer


def test_any_body_that_stalls_is_answered_408_and_its_connection_closed(make_server):
    srv = make_server(upload_timeout=0.3, dialect="doubleword")
    for path, token in (("/v1/batches", srv.token), ("/admin/faults", srv.admin_token)):
        answer = _stalled_answer(srv, path, token)
        assert answer.startswith(b"HTTP/1.1 408"), (path, answer)
        assert b"stalled" in answer and b"connection: close" in answer.lower()
    ok = httpx.get(f"{srv.base_url}/batches", headers={"Authorization": f"Bearer {srv.token}"})
    assert ok.status_code == 200
