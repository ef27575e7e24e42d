"""Doubleword cancel, as the control layer and its engine do it (cancel_batch, populate_batch,
the status derivation): accepted on any batch, never 409."""

from __future__ import annotations

from server_support import chat_line, wait_until


def _settled(api) -> None:
    """Return once the runner has saved whatever it had in flight."""
    api.srv.runner.call(lambda: None).result(timeout=30)


def test_cancel_of_a_running_batch_reads_cancelled_at_once_and_unrun_requests_go_nowhere(
    make_api,
):
    api = make_api(dialect="doubleword", rate=50.0)
    created = api.submit([chat_line(i) for i in range(400)])
    wait_until(lambda: api.batch(created["id"])["request_counts"]["completed"] >= 5)
    resp = api.http.post(f"/batches/{created['id']}/cancel")
    assert resp.status_code == 200
    cancelled = resp.json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelled_at"] == cancelled["cancelling_at"]
    _settled(api)
    again = api.http.post(f"/batches/{created['id']}/cancel")
    assert again.status_code == 200 and again.json()["cancelled_at"] == cancelled["cancelled_at"]
    done = api.batch(created["id"])
    assert done["status"] == "cancelled" and "completed_at" not in done
    counts = done["request_counts"]
    assert counts["total"] == 400 and 5 <= counts["completed"] < 400 and counts["failed"] == 0
    # canceled requests are in neither file: the error file holds failed requests only
    assert len(api.lines(done["output_file_id"])) == counts["completed"]
    assert api.lines(done["error_file_id"]) == []
    content = api.http.get(f"/files/{done['error_file_id']}/content")
    assert content.headers["X-Incomplete"] == "false"


def test_cancel_before_population_stays_cancelling_for_ever(make_api):
    api = make_api(dialect="doubleword", validation_delay=100)
    created = api.submit([chat_line(i) for i in range(5)])
    assert created["status"] == "validating" and created["request_counts"]["total"] == 5
    resp = api.http.post(f"/batches/{created['id']}/cancel")
    assert resp.status_code == 200 and resp.json()["status"] == "cancelling"
    assert "cancelled_at" in resp.json()  # stamped by the cancel itself
    api.srv.clock.advance(30 * 24 * 3600)  # population would have run long ago
    _settled(api)
    _settled(api)
    stuck = api.batch(created["id"])
    assert stuck["status"] == "cancelling" and "in_progress_at" not in stuck
    assert stuck["request_counts"] == {"total": 5, "completed": 0, "failed": 0}
    assert api.lines(stuck["output_file_id"]) == []


def test_cancel_of_a_finished_batch_relabels_it_cancelled(make_api):
    api = make_api(dialect="doubleword")
    done = api.wait(api.submit([chat_line(i) for i in range(3)])["id"])
    assert done["status"] == "completed"
    resp = api.http.post(f"/batches/{done['id']}/cancel")
    assert resp.status_code == 200
    after = resp.json()
    assert after["status"] == "cancelled" and after["completed_at"] == done["completed_at"]
    assert after["request_counts"] == done["request_counts"]
    assert len(api.lines(done["output_file_id"])) == 3


def test_requests_in_flight_at_cancel_complete_later_into_the_output_and_are_billed(make_api):
    api = make_api(dialect="doubleword", rate=40.0)
    api.srv.faults.late_completion(requests=3, delay=3600)
    created = api.submit([chat_line(i, model="Qwen/Qwen3-14B-FP8") for i in range(300)])
    wait_until(lambda: api.batch(created["id"])["request_counts"]["completed"] >= 5)
    assert api.http.post(f"/batches/{created['id']}/cancel").json()["status"] == "cancelled"
    _settled(api)
    at_cancel = api.batch(created["id"])
    n = at_cancel["request_counts"]["completed"]
    analytics = f"/batches/{created['id']}/analytics"
    assert api.http.get(analytics).json()["total_requests"] == n
    assert len(api.lines(at_cancel["output_file_id"])) == n
    api.srv.clock.advance(3600)  # the requests kept in flight now finish
    late = wait_until(
        lambda: (b := api.batch(created["id"]))["request_counts"]["completed"] == n + 3 and b
    )
    assert late["status"] == "cancelled" and late["cancelled_at"] == at_cancel["cancelled_at"]
    assert len(api.lines(late["output_file_id"])) == n + 3
    assert api.lines(late["error_file_id"]) == []
    billed = api.http.get(analytics).json()
    assert billed["total_requests"] == n + 3
    assert float(billed["total_cost"]) > 0
    _settled(api)
    assert api.batch(created["id"])["request_counts"]["completed"] == n + 3  # each ran once


def test_retry_overturns_a_cancel_and_reruns_the_canceled_requests(make_api):
    api = make_api(dialect="doubleword", rate=100.0)
    created = api.submit([chat_line(i) for i in range(200)])
    wait_until(lambda: api.batch(created["id"])["request_counts"]["completed"] >= 5)
    api.http.post(f"/batches/{created['id']}/cancel")
    _settled(api)
    assert api.batch(created["id"])["request_counts"]["completed"] < 200
    resp = api.http.post(f"/batches/{created['id']}/retry")  # cancel as a pause, retry resumes
    assert resp.status_code == 200
    assert "cancelling_at" not in resp.json() and "cancelled_at" not in resp.json()
    api.srv.runner.rate = None
    done = api.wait(created["id"])
    assert done["status"] == "completed" and done["request_counts"]["completed"] == 200
    assert len(api.lines(done["output_file_id"])) == 200


def test_retry_with_nothing_to_retry_is_400_and_after_an_early_cancel_validates_for_ever(
    make_api,
):
    api = make_api(dialect="doubleword", validation_delay=60)
    done_id = api.submit([chat_line(1)])["id"]
    api.srv.clock.advance(60)
    api.wait(done_id)
    resp = api.http.post(f"/batches/{done_id}/retry")
    assert resp.status_code == 400
    assert resp.text == (
        "Nothing to retry: no failed or canceled requests, and the batch is not cancelled"
    )
    early = api.submit([chat_line(2)])
    api.http.post(f"/batches/{early['id']}/cancel")
    assert api.http.post(f"/batches/{early['id']}/retry").json()["status"] == "validating"
    api.srv.clock.advance(3600)  # its population was skipped at the cancel: it never comes
    _settled(api)
    _settled(api)
    assert api.batch(early["id"])["status"] == "validating"
