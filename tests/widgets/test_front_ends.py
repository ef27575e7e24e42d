"""How a job shows itself in each front end: Jupyter (and VS Code, Colab: IPython kernels) shows
the live widget once; marimo takes ``_display_``; a mimebundle carries the widget view with its
static record and text."""

from __future__ import annotations

from IPython.core.interactiveshell import InteractiveShell

import dw_notebook as dw
from dw_notebook.datasets import sample_reviews
from dw_notebook.widgets.progress import ProgressWidget

VIEW = "application/vnd.jupyter.widget-view+json"


def _job(make_server):
    srv = make_server(rate=None)
    return dw.submit(sample_reviews(5), prompt="Label: {review}", model="mock",
                     api_key=srv.token, base_url=srv.base_url)  # fmt: skip


def test_ipython_shows_the_live_widget_exactly_once(make_server, shell):
    job = _job(make_server)
    data, metadata = InteractiveShell.instance().display_formatter.format(job)
    assert (data, metadata) == ({}, {})  # _ipython_display_ answered; no second bundle
    views = [m for m in shell.published if VIEW in m["data"]]
    assert len(views) == 1 and not views[0]["update"]
    assert views[0]["data"][VIEW]["model_id"] == job.view.model_id
    job.join(timeout=30)
    job.view.flush()


def test_marimo_gets_the_job_widget_and_other_tools_its_mimebundle(make_server, shell):
    job = _job(make_server)
    shown = job._display_()
    assert isinstance(shown, ProgressWidget) and shown is job.view
    data, _ = job._repr_mimebundle_()
    assert data[VIEW]["model_id"] == job.view.model_id
    assert 'data-testid="dw-progress-static"' in data["text/html"]
    assert data["text/plain"] and not data["text/plain"].startswith("<dw job")
    assert shell.published == []  # neither displays anything by itself
    job.join(timeout=30)
    job.view.flush()
