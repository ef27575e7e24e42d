"""The HTTP client against the local server in both dialects: errors, retries, pagination."""

from __future__ import annotations

import time

import pytest

from dw_notebook import errors
from dw_notebook.client import BatchClient

LINE = (
    b'{"custom_id":"%d","method":"POST","url":"/v1/chat/completions",'
    b'"body":{"model":"mock","messages":[{"role":"user","content":"hi %d"}]}}\n'
)


def jsonl(n: int) -> bytes:
    return b"".join(LINE % (i, i) for i in range(n))


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(server, sleeps):
    c = BatchClient(server.base_url, server.token, sleep=sleeps.append)
    yield c
    c.close()


def finished_batch(client: BatchClient, n: int = 3) -> dict:
    file_id = client.upload_file(jsonl(n))["id"]
    batch = client.create_batch(file_id, "/v1/chat/completions")
    deadline = time.monotonic() + 30
    while batch["status"] not in ("completed", "failed") and time.monotonic() < deadline:
        time.sleep(0.05)
        batch = client.get_batch(batch["id"])
    return batch


def test_rate_limits_are_retried_after_the_time_the_service_asks_for(client, server, sleeps):
    server.faults.rate_limit(count=2, retry_after=7, path="/v1/models")
    assert "mock" in client.list_models()
    assert sleeps == [7.0, 7.0]


def test_unavailable_with_retry_after_is_retried(client, server, sleeps):
    server.faults.server_error(status=503, count=1, retry_after=3, path="/v1/models")
    client.list_models()
    assert sleeps == [3.0]


def test_dropped_connections_on_reads_are_retried_with_backoff(client, server, sleeps):
    server.faults.drop_connection(count=2, path="/v1/models")
    client.list_models()
    assert len(sleeps) == 2 and all(0 <= s <= client.backoff_max for s in sleeps)


def test_retries_give_up_with_the_service_message(server, sleeps):
    server.faults.server_error(status=500, count=5, path="/v1/models")
    with BatchClient(server.base_url, server.token, sleep=sleeps.append, max_retries=2) as client:
        with pytest.raises(errors.ServerError) as caught:
            client.list_models()
    assert caught.value.status_code == 500 and "Injected server error" in caught.value.message
    assert len(sleeps) == 2


def test_a_wrong_key_is_an_authentication_error_in_both_dialects(server):
    with BatchClient(server.base_url, "wrong-key") as client:
        with pytest.raises(errors.AuthenticationError) as caught:
            client.list_models()
    assert caught.value.status_code == 401 and caught.value.message
    assert "wrong-key" not in str(caught.value)


def test_unknown_batch_is_not_found(client):
    with pytest.raises(errors.NotFoundError):
        client.get_batch("batch_does_not_exist")


def test_cancelling_a_finished_batch_is_a_conflict_on_openai_only(client, server):
    batch = finished_batch(client)
    assert batch["status"] == "completed"
    if server.dialect == "openai":
        with pytest.raises(errors.ConflictError):
            client.cancel_batch(batch["id"])
    else:  # Doubleword accepts any cancel, and the finished batch then reads cancelled
        assert client.cancel_batch(batch["id"])["status"] == "cancelled"


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_a_batch_cancelled_before_population_reads_cancelled_not_cancelling_for_ever(
    make_server,
):
    srv = make_server(validation_delay=3600)
    client = BatchClient(srv.base_url, srv.token)
    up = client.upload_file(b'{"custom_id":"a","method":"POST","url":"/v1/chat/completions",'
                            b'"body":{"model":"mock","messages":[]}}\n', "in.jsonl")  # fmt: skip
    batch = client.create_batch(up["id"], "/v1/chat/completions", "24h")
    raw = client._http.post(f"batches/{batch['id']}/cancel").json()  # noqa: SLF001
    assert raw["status"] == "cancelling"  # the service's word, for ever
    assert client.get_batch(batch["id"])["status"] == "cancelled"  # nothing will ever run
    client.close()


def test_normalize_batch_ends_only_a_doubleword_cancel_before_population():
    from dw_notebook.client import normalize_batch

    base = {"id": "b", "status": "cancelling", "cancelling_at": 5}
    assert normalize_batch({**base, "cancelled_at": 5})["status"] == "cancelled"
    populated = {**base, "cancelled_at": 5, "in_progress_at": 3}
    assert normalize_batch(populated)["status"] == "cancelling"
    assert normalize_batch(base)["status"] == "cancelling"  # OpenAI: still stopping


def test_batches_are_normalised_whatever_the_dialect(client, server):
    batch = finished_batch(client, n=4)
    assert batch["request_counts"] == {"total": 4, "completed": 4, "failed": 0}
    if server.dialect == "openai":
        assert batch["error_file_id"] is None  # an empty error file has no id
    else:
        assert batch["error_file_id"]  # Doubleword: both files exist from creation
    assert batch["output_file_id"]
    assert set(batch) >= {"id", "status", "created_at", "expires_at", "metadata", "errors"}


def test_content_is_read_in_pages_where_the_service_can(client, server):
    batch = finished_batch(client, n=5)
    whole = client.file_content(batch["output_file_id"])
    assert len(whole.data.splitlines()) == 5
    if server.dialect == "doubleword":
        rest = client.file_content(batch["output_file_id"], skip=3)
        assert rest.data.splitlines() == whole.data.splitlines()[3:]
        assert rest.last_line == 5 and rest.incomplete is False


def test_listing_follows_cursors_newest_first(client):
    file_id = client.upload_file(jsonl(1))["id"]
    created = [client.create_batch(file_id, "/v1/chat/completions")["id"] for _ in range(5)]
    page = client.list_batches(limit=2)
    assert page["has_more"] and len(page["data"]) == 2
    listed = [b["id"] for b in client.iter_batches(page_size=2)]
    assert listed == created[::-1]


def test_a_bad_file_is_refused_with_the_line_named(client, server):
    bad = jsonl(2) + b"not json\n"
    if server.dialect == "doubleword":
        with pytest.raises(errors.BadRequestError, match="3"):
            client.upload_file(bad)
    else:  # OpenAI validates after create: the batch fails with every bad line listed
        file_id = client.upload_file(bad)["id"]
        batch = client.create_batch(file_id, "/v1/chat/completions")
        deadline = time.monotonic() + 30
        while batch["status"] != "failed" and time.monotonic() < deadline:
            time.sleep(0.05)
            batch = client.get_batch(batch["id"])
        assert batch["status"] == "failed"
        assert [e["line"] for e in batch["errors"]["data"]] == [3]


def test_client_repr_hides_the_key(server):
    with BatchClient(server.base_url, server.token) as client:
        assert server.token not in repr(client)


def test_a_closed_client_fails_as_a_transport_error(client):
    client.close()  # stop_local() closes the cached clients of the server it stops
    with pytest.raises(errors.TransportError, match="closed"):
        client.list_models()


def test_dw_models_lists_the_models_of_the_service_submit_would_use(server):
    import dw_notebook as dw

    assert "mock" in dw.models(api_key=server.token, base_url=server.base_url)
    assert "mock" in dw.models()  # no key: the embedded local server


@pytest.mark.parametrize("dialect", ["openai"])
def test_uploads_and_downloads_let_go_of_their_bytes_when_they_return(server):
    """A job sends and reads file after file: none may stay alive until a garbage collection."""
    import gc
    import sys

    data = b'{"custom_id": "a"}\n' * 1000
    before = sys.getrefcount(data)
    gc.disable()
    try:
        with BatchClient(server.base_url, server.token) as client:
            file_id = client.upload_file(data, filename="held.jsonl")["id"]
            assert sys.getrefcount(data) == before
            read = client.file_content(file_id).data
            assert read == data and sys.getrefcount(read) == before
    finally:
        gc.enable()
