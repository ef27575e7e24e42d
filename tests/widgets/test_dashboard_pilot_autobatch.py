"""The jobs dashboard with pilots and autobatch clients, against the local server: a pilot
waiting for its rest says so and proceeds from its row, a proceeded pilot counts the whole job,
and an autobatch client's batches are collected from their row."""

from __future__ import annotations

import gc

import pytest

import dw_notebook as dw
from dw_notebook.datasets import sample_reviews
from dw_notebook.prices import price_for
from dw_notebook.widgets.jobs import jobs_html

from .conftest import browser_message

PROMPT = "Sentiment of this review, one word: {review}"
MODEL = "Qwen/Qwen3.5-9B"  # priced, answered by the mock backend


def rows_of(dash) -> dict[str, dict]:
    dash.refresh()
    return {r["name"]: r for r in dash.jobs}


@pytest.fixture
def dashboard(conn):
    made = []

    def make():
        made.append(dw.jobs(auto_refresh=None, **conn))
        return made[-1]

    yield make
    for dash in made:
        dash.close()


def test_a_waiting_pilot_proceeds_from_its_row_and_then_counts_the_whole_job(
    conn, dashboard, server, request
):
    df = sample_reviews(100, seed=8)
    job = dw.submit(df, prompt=PROMPT, model=MODEL, pilot=10, name="piloted", **conn)
    job.wait(timeout=60)
    dash = dashboard()
    row = rows_of(dash)["piloted"]
    assert (row["status"], row["pilot"], row["total"]) == ("pilot_done", "waiting", 10)
    assert "pilot done, waiting for proceed" in jobs_html(dash.jobs)

    browser_message(dash, {"type": "proceed", "id": row["id"]})
    browser_message(dash, {"type": "proceed", "id": row["id"]})  # a second click sends nothing
    assert [c["type"] for c, _ in dash.comm.customs()] == ["done", "done"]
    job.wait(timeout=60)
    row = rows_of(dash)["piloted"]
    assert (row["status"], row["pilot"]) == ("completed", "proceeded")
    assert (row["total"], row["completed"], row["failed"]) == (100, 100, 0)
    assert len(row["batches"]) == 2 and len(job.batch_ids) == 2
    # the cost counts both batches, each at its own window (the pilot's 1h, the rest's 24h)
    out = job.join()
    want = sum(
        (part["prompt_tokens"].sum() * price_for(MODEL, w).input
         + part["completion_tokens"].sum() * price_for(MODEL, w).output) / 1e6
        for w, part in ((job.spec["pilot"]["window"], out[out["phase"] == "pilot"]),
                        ("24h", out[out["phase"] == "rest"]))
    )  # fmt: skip
    assert row["cost"] == pytest.approx(want)


def test_proceed_without_the_jobs_frame_in_this_kernel_says_how(conn, dashboard):
    job = dw.submit(sample_reviews(40, seed=9), prompt=PROMPT, model=MODEL, pilot=4,
                    name="frame-gone", **conn)  # fmt: skip
    job.wait(timeout=60)
    del job
    gc.collect()  # the kernel no longer holds the job (a restart, or a deleted variable)
    dash = dashboard()
    row = rows_of(dash)["frame-gone"]
    browser_message(dash, {"type": "proceed", "id": row["id"]})
    [(error, _)] = dash.comm.customs()
    assert error["type"] == "error" and "dw.attach('frame-gone', df).proceed()" in error["text"]
    assert rows_of(dash)["frame-gone"]["pilot"] == "waiting"


def test_autobatch_batches_are_collected_from_the_dashboard(conn, dashboard):
    client = dw.autobatch(name="adhoc", flush_after=0.1, **conn)
    try:
        futures = [
            client.sync.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": f"Say {i}"}]
            )
            for i in range(7)
        ]
        [f.result(timeout=60) for f in futures]
    finally:
        client.close(wait=False)
    job = dw.submit(sample_reviews(5), prompt=PROMPT, model="mock", name="plain", **conn)
    job.wait(timeout=60)
    dash = dashboard()
    rows = rows_of(dash)
    assert rows["adhoc"]["collectable"] and not rows["plain"]["collectable"]

    browser_message(dash, {"type": "collect", "id": rows["adhoc"]["id"]})
    [(done, _)] = dash.comm.customs()
    assert done["type"] == "done" and done["action"] == "collect"
    assert done["text"].startswith("collected 7 answers of autobatch 'adhoc' (0 failed)")

    browser_message(dash, {"type": "collect", "id": rows["plain"]["id"]})
    assert "not a batch of an autobatch client" in dash.comm.customs()[-1][0]["text"]
