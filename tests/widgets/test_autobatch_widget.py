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


def test_each_output_carries_the_figures_and_keeps_them_fresh(shell, recording_comms):
    from IPython.display import display

    stats = {"queued": 2, "answered": 0, "name": "nightly", "window": "24h",
             "cost_usd": None, "last_error": "HTTP 500 <b>$5</b>"}  # fmt: skip
    widget = AutoBatchWidget(read=lambda: dict(stats), interval=0.01, record_every=0.0)
    display(widget)
    first = shell.published[0]
    html = first["data"]["text/html"]
    assert "autobatch nightly · 24h window" in html and "2</strong>" in html
    assert "&lt;b&gt;&#36;5&lt;/b&gt;" in html and "<b>" not in html  # escaped, $ too
    assert first["data"]["text/plain"].startswith("autobatch nightly · 24h window: 2 queued")
    stats.update(queued=0, answered=2, closed=True)
    widget._thread.join(timeout=10)  # a closed client: the last figures, then it stops
    last = shell.published[-1]
    assert last["update"] and last["transient"] == first["transient"]
    assert "2</strong> <span" in last["data"]["text/html"] and "closed" in last["data"]["text/html"]
    assert "2 answered" in last["data"]["text/plain"]
    widget.close()
