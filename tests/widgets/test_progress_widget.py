"""ProgressWidget: the snapshot trait, throttling, commands and the static end state."""

from __future__ import annotations

import threading

import ipywidgets
import pytest

from dw_notebook.progress.snapshot import BatchSnapshot, JobSnapshot
from dw_notebook.widgets.progress import ProgressWidget

from .conftest import browser_message


def snap(completed: int = 0, **kw) -> JobSnapshot:
    kw.setdefault("phase", "in_progress")
    return JobSnapshot(name="reviews", total=300, completed=completed, **kw)


def test_snapshot_and_its_record_are_the_only_synced_data_traits():
    widget = ProgressWidget()
    public = {k for k in widget.keys if not k.startswith("_")}
    assert public - set(ipywidgets.DOMWidget().keys) == {"snapshot", "record"}


def test_each_snapshot_carries_the_record_a_save_keeps_in_the_same_message(shell, clock):
    """A notebook saved mid-run keeps the record of the progress it shows (js/lib/record.js)."""
    from dw_notebook.widgets.progress import Header

    widget = ProgressWidget(clock=clock, schedule=clock.schedule)
    comm = widget.comm
    widget.update(snap(37))
    widget.adopt_display("slot", header=Header('<div data-testid="dw-x">sent</div>', "sent"))
    box = widget._headers["slot"].box(widget).model_id
    before = len(comm.published)
    clock.advance(1.0)
    widget.update(snap(120))
    assert len(comm.published) == before + 1  # the snapshot and its record travel together
    record = comm.updates("record")[-1]
    assert comm.updates("snapshot")[-1]["completed"] == 120
    assert set(record) == {widget.model_id, box}
    own = record[widget.model_id]
    assert "120 / 300 done" in own["text/html"] and 'data-testid="dw-as-of"' in own["text/html"]
    assert own["text/plain"].startswith("in progress")
    assert (
        '<div data-testid="dw-x">sent</div><div data-testid="dw-progress-static"'
        in record[box]["text/html"]
    )
    assert "120 / 300 done" in record[box]["text/html"]

    clock.advance(1.0)
    widget.update(snap(300, phase="completed", done=True))
    assert comm.updates("record")[-1] == {}  # ended: its outputs are static, nothing to keep


def test_update_sends_the_snapshot_as_one_message(clock):
    widget = ProgressWidget(clock=clock, schedule=clock.schedule)
    comm = widget.comm
    before = len(comm.published)
    widget.update(snap(37, failed=2, batches=(BatchSnapshot("b1", "in_progress", 300, 37, 2),)))
    assert len(comm.published) == before + 1
    sent = comm.updates("snapshot")[-1]
    assert sent["completed"] == 37 and sent["failed"] == 2 and sent["phase"] == "in_progress"
    assert [{k: b[k] for k in ("id", "status", "total", "completed", "failed")}
            for b in sent["batches"]] == [
        {"id": "b1", "status": "in_progress", "total": 300, "completed": 37, "failed": 0 + 2}
    ]  # fmt: skip
    assert sent["percent"] == 13
    assert widget.snapshot == sent


def test_updates_are_throttled_to_the_interval_and_the_newest_wins(clock):
    widget = ProgressWidget(clock=clock, schedule=clock.schedule, min_interval=0.25)
    comm = widget.comm
    for i in range(100):  # 100 snapshots within 0.1 s
        widget.update(snap(i))
        clock.now += 0.001
    assert [s["completed"] for s in comm.updates("snapshot")] == [0]
    clock.advance(0.25)  # the trailing send delivers the newest one
    assert [s["completed"] for s in comm.updates("snapshot")] == [0, 99]


def test_at_most_four_messages_per_second_under_a_flood(clock):
    widget = ProgressWidget(clock=clock, schedule=clock.schedule)
    for i in range(1000):  # 1000 snapshots over 10 simulated seconds
        widget.update(snap(i % 300))
        clock.advance(0.01)
    assert 35 <= widget.sent_count <= 41


def test_a_done_snapshot_is_always_sent_at_once(clock):
    widget = ProgressWidget(clock=clock, schedule=clock.schedule)
    comm = widget.comm
    widget.update(snap(10))
    widget.update(snap(299))
    assert widget.update(snap(300, phase="completed", done=True)) is True
    assert comm.updates("snapshot")[-1]["done"] is True
    clock.advance(1)  # the queued 299 must not overwrite the final state
    assert comm.updates("snapshot")[-1]["done"] is True


def test_update_is_safe_from_many_threads():
    widget = ProgressWidget(min_interval=0)
    threads = [
        threading.Thread(target=lambda k=k: [widget.update(snap(k * 100 + i)) for i in range(50)])
        for k in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent = widget.comm.updates("snapshot")
    assert len(sent) == 200
    assert widget.snapshot == sent[-1]


@pytest.mark.parametrize("command", ["cancel", "refresh"])
def test_button_messages_reach_the_command_callbacks(command):
    widget = ProgressWidget()
    seen: list[str] = []
    widget.on_command(seen.append)
    browser_message(widget, {"type": command})
    assert seen == [command]


def test_unknown_or_malformed_messages_are_ignored():
    widget = ProgressWidget()
    seen: list[str] = []
    widget.on_command(seen.append)
    for content in [{"type": "rm -rf"}, {"kind": "cancel"}, "cancel", None, []]:
        browser_message(widget, content)
    assert seen == []


def test_a_failing_command_is_reported_to_the_page_not_raised():
    widget = ProgressWidget()

    def boom(command: str) -> None:
        raise RuntimeError("server said 409")

    widget.on_command(boom)
    browser_message(widget, {"type": "cancel"})
    assert widget.comm.customs() == [
        ({"type": "error", "text": "cancel failed: server said 409"}, [])
    ]


def test_repr_summarises_the_job():
    widget = ProgressWidget()
    assert repr(widget) == "<dw progress: waiting for the first update>"
    widget.update(snap(37, failed=2))
    assert repr(widget).startswith("<dw progress 'reviews': in progress |")
    assert "37 / 300 done, 2 failed" in repr(widget)
    bundle, _ = widget._repr_mimebundle_()
    assert "37 / 300 done, 2 failed" in bundle["text/plain"]


def test_the_end_state_replaces_the_widget_with_static_html(shell, clock):
    from IPython.display import display

    widget = ProgressWidget(clock=clock, schedule=clock.schedule)
    widget.update(snap(5))
    display(widget)
    first = shell.published[0]
    assert "application/vnd.jupyter.widget-view+json" in first["data"]
    display_id = first["transient"]["display_id"]

    widget.update(snap(250, phase="completed", failed=50, done=True, message="<b>sim</b>"))
    final = shell.published[-1]
    assert final["update"] is True and final["transient"]["display_id"] == display_id
    assert "application/vnd.jupyter.widget-view+json" not in final["data"]
    html = final["data"]["text/html"]
    assert "250 / 300 done, 50 failed" in html and "&lt;b&gt;sim&lt;/b&gt;" in html
    assert "<b>" not in html
    assert final["data"]["text/plain"].startswith("reviews completed: 250 / 300 done, 50 failed")

    widget.update(snap(250, phase="completed", failed=50, done=True, actual_cost=0.25))
    refreshed = shell.published[-1]
    assert refreshed["transient"]["display_id"] == display_id
    assert "actual &#36;0.25" in refreshed["data"]["text/html"]
    assert "$" not in refreshed["data"]["text/html"]  # JupyterLab would typeset $…$ as math

    display(widget)  # showing a finished widget again shows the static outcome directly
    assert "text/html" in shell.published[-1]["data"]
    assert not shell.published[-1]["update"]


def test_a_live_output_carries_static_html_refreshed_as_the_job_moves(shell, clock):
    """A notebook saved mid-run without widget state shows the latest state, not a stale one."""
    from IPython.display import display

    widget = ProgressWidget(clock=clock, schedule=clock.schedule, static_every=10.0)
    widget.update(snap(0, phase="validating"))
    display(widget)
    first = shell.published[0]
    assert "application/vnd.jupyter.widget-view+json" in first["data"]
    assert "validating" in first["data"]["text/html"]
    display_id = first["transient"]["display_id"]

    clock.advance(1.0)
    widget.update(snap(30))  # the phase changed: the output's static part follows at once
    moved = shell.published[-1]
    assert moved["update"] and moved["transient"]["display_id"] == display_id
    assert "application/vnd.jupyter.widget-view+json" in moved["data"]  # still the live widget
    html = moved["data"]["text/html"]
    assert "in progress" in html and "30 / 300 done" in html
    assert "10%" in moved["data"]["text/plain"]

    count = len(shell.published)
    clock.advance(1.0)
    widget.update(snap(60))  # same phase, soon after: only the widget trait moves
    assert len(shell.published) == count
    clock.advance(10.0)
    widget.update(snap(200))
    assert "200 / 300 done" in shell.published[-1]["data"]["text/html"]


def test_static_end_can_be_turned_off(shell):
    from IPython.display import display

    widget = ProgressWidget(static_at_end=False)
    display(widget)
    widget.update(snap(300, phase="completed", done=True))
    assert len(shell.published) == 1
