"""Start and stop the local server: uvicorn on a background thread, runner beside it."""

from __future__ import annotations

import secrets
import shutil
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any

import uvicorn

from dw_notebook import wire
from dw_notebook.server.app import create_app
from dw_notebook.server.backends import Backend, EchoBackend, MockBackend
from dw_notebook.server.clock import Clock
from dw_notebook.server.context import Ctx
from dw_notebook.server.dialects import get_dialect
from dw_notebook.server.dw_upload import MAX_FILE_BYTES
from dw_notebook.server.faults import Faults
from dw_notebook.server.files import FileStore
from dw_notebook.server.forward import ForwardBackend
from dw_notebook.server.retention import Cleaned
from dw_notebook.server.runner import AUTO, Runner
from dw_notebook.server.store import Store
from dw_notebook.server.upload import IDLE_TIMEOUT

BACKENDS: dict[str, type[Backend]] = {
    "mock": MockBackend,
    "echo": EchoBackend,
    "forward": ForwardBackend,
}


def make_backend(name: str, options: dict | None = None) -> Backend:
    """Build the backend called ``name`` (mock, echo, forward) with ``options``."""
    try:
        cls = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; choose from {sorted(BACKENDS)}") from None
    return cls(**(options or {}))


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on such sockets (else +40 ms a call)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class LocalServer:
    """A local Batch API server (HTTP on a background thread, plus the batch runner).

    >>> with start_server(dialect="openai", rate=None) as srv:   # doctest: +SKIP
    ...     client = openai.OpenAI(base_url=srv.base_url, api_key=srv.token)

    Options: ``dialect`` ("doubleword" or "openai"), ``backend`` ("mock", "echo", "forward")
    with ``backend_options``; ``host``/``port`` (0 picks a free port); ``token`` and
    ``admin_token`` (random when None); ``data_dir`` (None: a temp dir removed on stop);
    ``rate`` (requests/s for the whole server, None unlimited, ``"auto"``: 50/s, faster for
    large jobs so any job ends in about a minute); ``retention`` (seconds: finished batches and
    their files older than that are deleted; None keeps everything); ``shuffle`` (output order);
    ``validation_delay``/``finalize_delay`` (seconds on ``clock``); ``max_file_bytes`` (default
    200 MB, Doubleword 100 MB; the whole
    upload body may carry 64 KiB more) and ``upload_timeout`` (seconds an upload may stall);
    ``max_attempts``/``retry_backoff`` (Doubleword retries of 429/5xx answers).
    """

    def __init__(
        self,
        dialect: str = "doubleword",
        backend: str = "mock",
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        data_dir: str | Path | None = None,
        rate: float | str | None = 50.0,
        shuffle: bool = False,
        validation_delay: float = 0.3,
        finalize_delay: float = 0.3,
        backend_options: dict | None = None,
        admin_token: str | None = None,
        max_file_bytes: int | None = None,
        upload_timeout: float = IDLE_TIMEOUT,
        max_attempts: int = 3,
        retry_backoff: float = 1.0,
        retention: float | None = None,
    ) -> None:
        if rate is not None and rate != AUTO and (not isinstance(rate, int | float) or rate <= 0):
            raise ValueError("rate must be positive, 'auto', or None for unlimited")
        d = get_dialect(dialect)
        if max_file_bytes is None:  # Doubleword's default deployment limit is 100 MB
            max_file_bytes = MAX_FILE_BYTES if d.name == "doubleword" else wire.MAX_FILE_BYTES
        self.dialect = d.name
        self.backend_name = backend
        self._backend = make_backend(backend, backend_options)
        try:
            self._sock = _bind(host, port)
        except OSError:
            self._backend.close()
            raise
        self.host, self.port = host, self._sock.getsockname()[1]
        self.token = token or secrets.token_urlsafe(24)
        self.admin_token = admin_token or secrets.token_urlsafe(24)
        self._temp = data_dir is None
        self.data_dir = Path(tempfile.mkdtemp(prefix="dw-local-")) if self._temp else Path(data_dir)
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._store = Store(self.data_dir / "state.sqlite3")
        # a restarted server keeps the time its clock had been moved to
        self.clock = Clock(float(self._store.get_meta("clock_offset") or 0))
        self.clock.on_advance(lambda: self._store.set_meta("clock_offset", repr(self.clock.offset)))
        self.faults = Faults(now=self.clock.now)
        files = FileStore(self.data_dir)
        self.runner = Runner(
            self._store,
            files,
            self._backend,
            self.clock,
            d,
            rate=rate,
            shuffle=shuffle,
            validation_delay=validation_delay,
            finalize_delay=finalize_delay,
            max_attempts=max_attempts,
            retry_backoff=retry_backoff,
            retention=retention,
        )
        self.clock.on_advance(self.runner.wake)
        ctx = Ctx(
            self._store, files, self.runner, d, self.clock, self.faults, max_file_bytes,
            upload_timeout,
        )  # fmt: skip
        app = create_app(ctx, self.token, self.admin_token)
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=2
        )
        self._uvicorn = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="dw-local-server", daemon=True)
        self._stopped = False
        self._lock = threading.Lock()

    def _serve(self) -> None:
        self._uvicorn.run(sockets=[self._sock])

    @property
    def backend(self) -> Backend:
        """The model backend; its options (e.g. ``failure_rate``) may be changed while running."""
        return self._backend

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{wire.API_PREFIX}"

    def start(self) -> LocalServer:
        """Start the runner and the HTTP server; returns once requests are accepted."""
        self.runner.start()
        self._thread.start()
        for _ in range(1000):
            if self._uvicorn.started or not self._thread.is_alive():
                break
            threading.Event().wait(0.01)
        if not self._uvicorn.started:
            self.stop()
            raise RuntimeError("the local server did not start")
        return self

    def stop(self) -> None:
        """Stop serving and the runner; removes a temporary data dir. Safe to call twice."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._uvicorn.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._sock.close()
        self.runner.stop()
        self._backend.close()
        self._store.close()
        if self._temp:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def cleanup(self, older_than: float = 0.0) -> Cleaned:
        """Delete batches that finished more than ``older_than`` seconds ago and every file
        no remaining batch uses; running batches are kept. Returns what was removed.

        >>> dw.local().cleanup(older_than=7 * 86400)   # doctest: +SKIP
        Cleaned(batches=3, files=9, bytes=1204733)
        """
        return self.runner.call(lambda: self.runner.cleanup(older_than)).result(timeout=120)

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "running"
        return (
            f"LocalServer({self.base_url!r}, dialect={self.dialect!r}, "
            f"backend={self.backend_name!r}, {state})"
        )


def start_server(**options: Any) -> LocalServer:
    """Start a local Batch API server on a background thread (see LocalServer for options)."""
    return LocalServer(**options).start()
