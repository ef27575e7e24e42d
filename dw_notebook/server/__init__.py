"""Local Batch API server: OpenAI and Doubleword dialects, mock/echo/forward backends.

>>> from dw_notebook.server import start_server
>>> srv = start_server(dialect="doubleword", backend="mock")   # doctest: +SKIP
>>> srv.base_url, srv.token                                     # doctest: +SKIP
>>> srv.stop()                                                  # doctest: +SKIP
"""

from dw_notebook.server.server import LocalServer, start_server

__all__ = ["LocalServer", "start_server"]
