"""The autobatch status widget follows a real client against the local server."""

from __future__ import annotations

import orjson

import dw_notebook as dw
from dw_notebook.widgets.autobatch import AutoBatchWidget


def test_the_widget_follows_the_clients_counters_and_never_holds_the_key(conn, recording_comms):
    client = dw.autobatch(flush_after=0.1, **conn)
    widget = AutoBatchWidget(read=client.status, interval=0.05)
    futures = [
        client.sync.chat.completions.create(
            model="Qwen/Qwen3.5-9B", messages=[{"role": "user", "content": f"hi {i}"}]
        )
        for i in range(12)
    ]
    assert all(f.result(timeout=60).choices for f in futures)
    client.close()
    widget._thread.join(timeout=10)  # the widget stops following a closed client

    assert widget.stats["answered"] == 12 and widget.stats["closed"]
    updates = widget.comm.updates("stats")
    assert updates and updates[-1]["answered"] == 12
    assert len({u["answered"] for u in updates} | {0}) >= 2  # it changed while it ran
    published = orjson.dumps([m["data"] for c in recording_comms for m in c.published]).decode()
    assert conn["api_key"] not in published
    widget.close()


def test_the_text_line_words_figures_as_the_widget_does():
    from dw_notebook.autobatch._engine import Stats

    line = Stats(queued=2, sending=1, answered=5, cost_usd=1.254).line()
    assert line.startswith("3 queued") and "cost so far $1.25" in line
