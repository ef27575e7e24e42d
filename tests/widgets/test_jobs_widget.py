"""JobsWidget: rows, refresh from load(), attach/cancel messages, auto refresh."""

from __future__ import annotations

import threading

import pytest
from IPython.core.interactiveshell import InteractiveShell

from dw_notebook.progress.snapshot import JobSnapshot
from dw_notebook.widgets.jobs import JobsWidget, normalise_rows
from dw_notebook.widgets.progress import ProgressWidget

from .conftest import RecordingPublisher, browser_message

ROWS = [
    {"id": "batch_old", "name": "a", "status": "completed", "total": 10, "completed": 10,
     "created_at": 100.0, "model": "mock", "source": "local"},
    {"id": "batch_new", "name": "b", "status": "in_progress", "total": 10, "completed": 3,
     "failed": 1, "created_at": 200, "source": "server"},
]  # fmt: skip


def test_rows_are_normalised_newest_first_and_deduplicated():
    rows = normalise_rows([*ROWS, {"id": "batch_old", "status": "expired"}, {"status": "x"}])
    assert [r["id"] for r in rows] == ["batch_new", "batch_old"]
    assert rows[1]["status"] == "expired" and rows[1]["total"] is None  # unknown, not 0
    assert rows[0] == {"id": "batch_new", "name": "b", "status": "in_progress", "total": 10,
                       "completed": 3, "failed": 1, "created_at": 200.0, "model": "",
                       "source": "server", "job_id": "", "attempts": 1, "where": "",
                       "cancellable": True, "batches": [], "duration_s": None, "cost": None,
                       "cost_note": "", "pilot": "", "collectable": False}  # fmt: skip


def test_refresh_message_reloads_rows_from_load():
    calls = []

    def load():
        calls.append(1)
        return ROWS[: len(calls)]

    widget = JobsWidget(load=load)
    assert [r["id"] for r in widget.jobs] == ["batch_old"]
    browser_message(widget, {"type": "refresh"})
    assert [r["id"] for r in widget.jobs] == ["batch_new", "batch_old"]
    assert widget.comm.updates("jobs")[-1] == widget.jobs


def test_a_failing_load_is_reported_in_the_widget():
    def load():
        raise ConnectionError("server down")

    widget = JobsWidget(load=load)
    assert widget.comm.customs()[-1][0] == {
        "type": "error",
        "text": "could not list batches: server down",
    }


@pytest.mark.parametrize("action", ["attach", "cancel"])
def test_actions_call_their_callback_with_the_batch_id_then_refresh(action):
    seen, loads = [], []
    widget = JobsWidget(
        load=lambda: loads.append(1) or ROWS,
        on_attach=lambda b: seen.append(("attach", b)),
        on_cancel=lambda b: seen.append(("cancel", b)),
    )
    browser_message(widget, {"type": action, "id": "batch_new"})
    assert seen == [(action, "batch_new")]
    assert len(loads) == 2
    assert widget.comm.customs()[-1][0] == {"type": "done", "id": "batch_new", "action": action}


def test_a_failing_action_is_reported_with_its_batch_id():
    def cancel(batch_id):
        raise RuntimeError("409 already finished")

    widget = JobsWidget(ROWS, on_cancel=cancel)
    browser_message(widget, {"type": "cancel", "id": "batch_new"})
    assert widget.comm.customs()[-1][0] == {
        "type": "error",
        "id": "batch_new",
        "text": "cancel failed: 409 already finished",
    }


def test_malformed_messages_are_ignored():
    seen = []
    widget = JobsWidget(ROWS, on_cancel=seen.append, on_attach=seen.append)
    for content in [{"type": "cancel"}, {"type": "cancel", "id": 3}, {"type": "drop"}, "x"]:
        browser_message(widget, content)
    assert seen == []


def test_status_filter_is_a_synced_trait_the_page_sets():
    widget = JobsWidget(ROWS)
    widget.set_state({"status_filter": "in_progress"})
    assert widget.status_filter == "in_progress"


def test_auto_refresh_polls_load_on_a_thread_until_stopped():
    done = threading.Event()
    calls = []

    def load():
        calls.append(1)
        if len(calls) >= 4:
            done.set()
        return ROWS

    widget = JobsWidget(load=load)
    widget.start_auto_refresh(interval=0.01)
    assert done.wait(5)
    widget.stop_auto_refresh()
    n = len(calls)
    assert widget._thread is None and n >= 4


def test_repr_counts_batches_by_status():
    assert repr(JobsWidget(ROWS)) == "<dw jobs: 2 jobs: 1 completed, 1 in progress>"


def test_attach_shows_the_job_below_the_dashboard(monkeypatch):
    from IPython.display import display

    shell = InteractiveShell.instance()
    pub = RecordingPublisher()
    monkeypatch.setattr(shell, "display_pub", pub)
    try:
        progress = ProgressWidget(JobSnapshot("a", "in_progress", total=10, completed=3))
        widget = JobsWidget(ROWS, on_attach=lambda batch_id: progress)
        display(widget)
        dashboard, slot = pub.published
        assert dashboard["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] == (
            widget.model_id
        )
        widget.act("attach", "batch_new")
        shown = pub.published[-1]
        assert shown["update"] and shown["transient"] == slot["transient"]
        assert shown["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] == (
            progress.model_id
        )
    finally:
        InteractiveShell.clear_instance()


def test_the_saved_table_follows_status_changes_but_not_every_count(shell):
    from IPython.display import display

    widget = JobsWidget(ROWS)
    display(widget)
    first = shell.published[0]
    assert "in progress" in first["data"]["text/html"]
    widget.set_jobs([ROWS[0], {**ROWS[1], "completed": 5}])  # counts only: no redraw
    assert len(shell.published) == 2  # the dashboard and the slot below it
    widget.set_jobs([ROWS[0], {**ROWS[1], "status": "completed", "completed": 10}])
    update = shell.published[-1]
    assert update["update"] and update["transient"] == first["transient"]
    assert "in progress" not in update["data"]["text/html"]
    assert "10 / 10 done" in update["data"]["text/html"]
