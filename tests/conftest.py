"""Shared fixtures: an isolated registry per test and local servers over real HTTP."""

from __future__ import annotations

import gc

import pytest
from support.proxy import FaultProxy

from dw_notebook.client import close_clients
from dw_notebook.local import stop_local
from dw_notebook.server import start_server


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Each test gets its own registry and local-server dir, and no key from the environment."""
    home = tmp_path / "dw-home"
    monkeypatch.setenv("DW_NOTEBOOK_HOME", str(home))
    monkeypatch.setenv("DW_CONFIG_DIR", str(tmp_path / "no-dw-config"))
    monkeypatch.delenv("DOUBLEWORD_API_KEY", raising=False)
    monkeypatch.delenv("DOUBLEWORD_BASE_URL", raising=False)
    return home


@pytest.fixture(autouse=True)
def _no_leaked_connections():
    """``dw.submit`` and friends start the embedded server once per process and cache one
    client per service: stop and close them after each test, so no test sees another's server
    and no pooled connection outlives its server. Then collect garbage, so a socket or file the
    test left open warns now, within this test, rather than in a later one or after the run (an
    unclosed socket is an error: see filterwarnings in pyproject.toml)."""
    yield
    stop_local()  # the next test starts its own embedded server, in its own home
    close_clients()
    gc.collect()
    gc.freeze()  # what is still alive stays out of the next collections: they stay quick


@pytest.fixture(params=["doubleword", "openai"])
def dialect(request):
    return request.param


@pytest.fixture
def make_server(dialect, tmp_path):
    """Start local servers in the test's dialect (options override the fast test defaults:
    shuffled output, short delays); all are stopped after the test."""
    started = []

    def make(**options):
        settings = {
            "dialect": dialect,
            "backend": "mock",
            "rate": 2000.0,
            "shuffle": True,
            "validation_delay": 0.05,
            "finalize_delay": 0.05,
            "data_dir": tmp_path / f"server-{len(started)}",
            **options,
        }
        started.append(start_server(**settings))
        return started[-1]

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture
def server(make_server):
    """A local server in the given dialect, shuffling output order, fast enough for tests."""
    return make_server()


@pytest.fixture
def proxy(server):
    """A fault proxy (``tests/support/proxy.py``) in front of ``server``."""
    with FaultProxy(server.base_url) as p:
        yield p


@pytest.fixture
def conn(server):
    """Keyword arguments that point the public API at ``server``."""
    return {"api_key": server.token, "base_url": server.base_url}
