"""Local Batch API server: OpenAI and Doubleword dialects, mock/echo/forward backends.

>>> from dw_notebook.server import start_server
>>> srv = start_server(dialect="doubleword", backend="mock")   # doctest: +SKIP
>>> srv.base_url, srv.token                                     # doctest: +SKIP
>>> srv.clock.advance(24 * 3600)                                # doctest: +SKIP
>>> srv.faults.rate_limit(count=3, retry_after=2)               # doctest: +SKIP
>>> srv.stop()                                                  # doctest: +SKIP

Modules, one job each:

- ``server``: start/stop (uvicorn thread + runner), ``LocalServer``, ``start_server``
- ``app``, ``routes_files``, ``routes_batches``, ``routes_admin``, ``context``: HTTP routes
- ``gate``: bearer auth (API and admin tokens) and fault injection in front of the routes
- ``upload``: multipart upload streamed to disk under a size limit
- ``dialects``: what differs between OpenAI and Doubleword (ids, codes, nulls, errors)
- ``dw_objects``, ``dw_batches``, ``dw_upload``, ``dw_content``: Doubleword's batch object,
  status and analytics; create checks and list; upload checks; file content paging
- ``validation``: input file checks; ``estimate`` and ``prices``: Doubleword cost estimate
- ``runner``: the thread that schedules batches; ``lifecycle``: what each state change does
- ``store``: SQLite state; ``files``: file bytes on disk; ``records``: output/error lines
- ``backends`` (mock, echo), ``forward``, ``mock_schema``, ``replies``: model answers
- ``faults``: the fault switchboard; ``clock``: time that tests can move; ``cli``: ``serve``
"""

from dw_notebook.server.server import LocalServer, start_server

__all__ = ["LocalServer", "start_server"]
