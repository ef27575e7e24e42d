"""The embedded local Batch API server, started on demand inside this process.

One server per process. Its state lives under the user data dir so batches survive a kernel
restart (the next kernel's server resumes them); if another live process holds that dir, a
temporary one is used instead.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import threading
from pathlib import Path
from typing import Any

from .client import close_clients
from .config import Connection, home_dir

_lock = threading.Lock()
_server: Any = None
_lock_file: Any = None

SIMULATED_NOTE = (
    "No DOUBLEWORD_API_KEY set: using the embedded local Batch API server; answers are simulated."
)


def _claim_data_dir() -> Path | None:
    """The shared local-server data dir if no other process is using it, else None."""
    global _lock_file
    path = home_dir() / "local-server"
    path.mkdir(parents=True, exist_ok=True)
    handle = open(path / ".lock", "w")  # noqa: SIM115 - held for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    _lock_file = handle
    return path


def local(
    *,
    dialect: str = "doubleword",
    backend: str = "mock",
    rate: float | str | None = "auto",
    **options: Any,
) -> Any:
    """Start (once) and return the embedded local server; ``.base_url`` and ``.token`` reach it.

    >>> srv = dw.local()          # doctest: +SKIP
    >>> srv.base_url              # doctest: +SKIP
    'http://127.0.0.1:53187/v1'

    Calling it again returns the running server; pass options only on the first call, or call
    ``stop_local()`` first. ``rate="auto"`` paces small demos at 50 requests/s and any larger
    job to end in about a minute; ``retention=7 * 86400`` deletes finished batches and their
    files after a week, and ``dw.local().cleanup()`` frees the disk now.
    """
    global _server
    from .server import start_server

    with _lock:
        if _server is None:
            data_dir = options.pop("data_dir", None)
            if data_dir is None and os.environ.get("DW_NOTEBOOK_LOCAL_PERSIST", "1") != "0":
                data_dir = _claim_data_dir()
            _server = start_server(
                dialect=dialect, backend=backend, rate=rate, data_dir=data_dir, **options
            )
            atexit.register(stop_local)
        return _server


def stop_local() -> None:
    """Stop the embedded server and close the cached clients that pointed at it."""
    global _server, _lock_file
    with _lock:
        if _server is not None:
            _server.stop()
            close_clients(_server.base_url)
            _server = None
        if _lock_file is not None:
            _lock_file.close()
            _lock_file = None


def local_connection() -> Connection:
    server = local()
    return Connection(server.base_url, server.token, simulated=True)
