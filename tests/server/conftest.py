"""Fixtures for the local server tests: servers on ephemeral ports and a thin HTTP client."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import openai
import pytest
from server_support import Api

from dw_notebook.server import LocalServer, start_server


@pytest.fixture
def make_server(tmp_path) -> Iterator[Callable[..., LocalServer]]:
    """Start servers with test-friendly defaults; all are stopped after the test."""
    started: list[LocalServer] = []

    def make(**options) -> LocalServer:
        defaults = dict(rate=None, shuffle=True, validation_delay=0.0, finalize_delay=0.0)
        srv = start_server(**{**defaults, **options})
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture
def make_api(make_server) -> Iterator[Callable[..., Api]]:
    """Start a server and return an ``Api`` bound to it."""
    apis: list[Api] = []

    def make(**options) -> Api:
        api = Api(make_server(**options))
        apis.append(api)
        return api

    yield make
    for api in apis:
        api.close()


@pytest.fixture(params=["openai", "doubleword"])
def any_dialect(request) -> str:
    return request.param


@pytest.fixture
def sdk(make_server, any_dialect):
    """A server in either dialect and an openai SDK client for it (no retries)."""
    srv = make_server(dialect=any_dialect)
    client = openai.OpenAI(base_url=srv.base_url, api_key=srv.token, max_retries=0)
    yield srv, client
    client.close()
