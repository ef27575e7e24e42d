"""The embedded local Batch API server, started on demand inside this process.

One server per process. Its state lives under the user data dir so batches survive a kernel
restart (the next kernel's server resumes them). A second kernel, while the first one runs,
uses the first kernel's server (its address and token are kept in that dir, owner-only), so both
see the same batches; only when that server cannot be reached is a temporary one started, with a
warning that its batches are not shared.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from .client import close_clients
from .config import Connection, home_dir

if TYPE_CHECKING:
    from .server.retention import Cleaned

_lock = threading.Lock()
_server: Any = None
_lock_file: Any = None

SIMULATED_NOTE = (
    "No DOUBLEWORD_API_KEY set: using the embedded local Batch API server; answers are simulated."
)


ADDRESS_FILE = "server.json"


@dataclass
class SharedServer:
    """The embedded server of another kernel on this machine, used instead of starting one."""

    base_url: str
    token: str = field(repr=False)
    pid: int = 0
    data_dir: Path | None = None
    backend_name: str = "mock"
    admin_token: str = field(default="", repr=False)
    settings: dict[str, Any] = field(default_factory=dict)

    def stop(self) -> None:
        """Nothing to stop: the server belongs to the other kernel."""

    @property
    def backend(self) -> Any:
        raise RuntimeError(
            f"this kernel uses the embedded server of process {self.pid} (another kernel), whose "
            "backend lives in that process and cannot be changed from here. Pass the options "
            "you need to dw.local(...): options that differ from that server's start this "
            "kernel's own"
        )

    def cleanup(self, older_than: float = 0.0) -> Cleaned:
        """``LocalServer.cleanup`` of the other kernel's server, asked over HTTP."""
        from .server.retention import Cleaned

        root = self.base_url.rstrip("/").removesuffix("/v1")
        answer = httpx.post(
            f"{root}/admin/cleanup",
            json={"older_than": older_than},
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=120,
        )
        answer.raise_for_status()
        return Cleaned(**answer.json())


def _data_dir() -> Path:
    path = home_dir() / "local-server"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _publish(server: Any, path: Path, settings: dict[str, Any]) -> None:
    """Write where this process's server answers, readable by the owner only."""
    info = {
        "base_url": server.base_url, "token": server.token, "pid": os.getpid(),
        "backend": server.backend_name, "admin_token": server.admin_token,
        "settings": settings,
    }  # fmt: skip
    target = path / ADDRESS_FILE
    tmp = path / f".{ADDRESS_FILE}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(orjson.dumps(info))
    os.replace(tmp, target)


def _answers(base_url: str, token: str) -> bool:
    try:
        answer = httpx.get(
            base_url.rstrip("/") + "/models",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5.0,
        )
    except httpx.HTTPError:
        return False
    return answer.status_code == 200


def _shared_server(path: Path) -> SharedServer | None:
    """The server of the process holding ``path``, if it answers with the recorded token."""
    try:
        info = orjson.loads((path / ADDRESS_FILE).read_bytes())
        base_url, token = str(info["base_url"]), str(info["token"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _answers(base_url, token):
        return None
    backend, admin = str(info.get("backend") or "mock"), str(info.get("admin_token") or "")
    settings = info.get("settings") if isinstance(info.get("settings"), dict) else {}
    pid = int(info.get("pid") or 0)
    return SharedServer(base_url, token, pid, path, backend, admin, settings)


def _claim_data_dir() -> Path | None:
    """The shared local-server data dir if no other process is using it, else None."""
    global _lock_file
    path = _data_dir()
    handle = open(path / ".lock", "w")  # noqa: SIM115 - held for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    _lock_file = handle
    return path


_DEFAULTS: dict[str, Any] = {"dialect": "doubleword", "backend": "mock", "rate": "auto"}
_settings: dict[str, Any] = {}  # what this process's own server was started with


def _differences(requested: dict[str, Any], running: dict[str, Any]) -> list[str]:
    """'rate=200.0 (it runs with 'auto')' for each requested option the running server lacks."""
    out = []
    for key, value in requested.items():
        have = running.get(key, _DEFAULTS.get(key))
        if orjson.dumps(have, option=orjson.OPT_SORT_KEYS) != orjson.dumps(
            value, option=orjson.OPT_SORT_KEYS
        ):
            out.append(f"{key}={value!r} (it runs with {have!r})")
    return out


def _jsonable(options: dict[str, Any]) -> dict[str, Any]:
    """The options as JSON values, to publish and compare (a value JSON has no form for, by
    its repr)."""
    return orjson.loads(orjson.dumps(options, default=repr))


def local(**requested: Any) -> Any:
    """Start (once) and return the embedded local server; ``.base_url`` and ``.token`` reach it.

    >>> srv = dw.local()          # doctest: +SKIP
    >>> srv.base_url              # doctest: +SKIP
    'http://127.0.0.1:53187/v1'

    Options: ``dialect`` ("doubleword"), ``backend`` ("mock"), ``rate`` ("auto" paces small
    demos at 50 requests/s and any larger job to end in about a minute), ``backend_options``,
    ``retention`` (``7 * 86400`` deletes finished batches and their files after a week) and the
    rest of ``LocalServer``'s. Calling it again returns the running server; options that differ
    from the running server's raise (call ``dw.stop_local()`` first). While another kernel's
    server runs, this kernel uses it, unless the options asked for differ from that server's:
    then this kernel starts its own, whose batches that kernel does not see.
    ``dw.local().cleanup()`` frees the disk now.
    """
    global _server, _settings
    from .server import start_server

    data_dir = requested.pop("data_dir", None)
    wanted = _jsonable(requested)
    with _lock:
        if isinstance(_server, SharedServer) and not _answers(_server.base_url, _server.token):
            _server = None  # the other kernel has gone: take over its data (or start anew)
        if _server is not None:
            running = _server.settings if isinstance(_server, SharedServer) else _settings
            if differ := _differences(wanted, running):
                raise ValueError(
                    "the embedded server already runs with other options: "
                    + ", ".join(differ)
                    + ". Call dw.stop_local() first to start it with these"
                )
            return _server
        shared = data_dir is None and os.environ.get("DW_NOTEBOOK_LOCAL_PERSIST", "1") != "0"
        if shared:
            data_dir = _claim_data_dir()
            if data_dir is None:
                other = _shared_server(_data_dir())
                differ = _differences(wanted, other.settings) if other is not None else []
                if other is not None and not differ:
                    _server = other
                    return _server
                if other is not None:
                    warnings.warn(
                        f"the embedded server of process {other.pid} (another kernel) runs "
                        f"with other options: {', '.join(differ)}; starting this kernel's own "
                        "server, whose batches that kernel does not see",
                        stacklevel=2,
                    )
                else:
                    warnings.warn(
                        "another process holds the embedded server's data dir but its server "
                        "does not answer; starting a temporary server: batches created by the "
                        "other process are not visible here",
                        stacklevel=2,
                    )
        options = {**_DEFAULTS, **requested}
        _server = start_server(data_dir=data_dir, **options)
        _settings = wanted
        if shared and data_dir is not None:
            _publish(_server, Path(data_dir), wanted)
        atexit.register(stop_local)
        return _server


def stop_local() -> None:
    """Stop the embedded server and close the cached clients that pointed at it."""
    global _server, _lock_file, _settings
    with _lock:
        _settings = {}
        if _server is not None:
            _server.stop()
            close_clients(_server.base_url)
            _server = None
        if _lock_file is not None:
            _lock_file.close()
            _lock_file = None


def local_connection() -> Connection:
    server = local()
    return Connection(server.base_url, server.token, simulated=True, backend=server.backend_name)
