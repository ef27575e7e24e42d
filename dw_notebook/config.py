"""Where to send batches and with which key.

Resolution order (the same as Doubleword's own tools): explicit arguments, then
``DOUBLEWORD_API_KEY`` (with ``DOUBLEWORD_BASE_URL`` to point elsewhere), then
``~/.dw/config.toml`` (``active_account``) with ``~/.dw/credentials.toml``
(``[accounts.<name>].inference_key``). With none of them the embedded local server is used.

The package keeps its own files (registry, embedded server state) in the user data dir;
``DW_NOTEBOOK_HOME`` overrides it.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import platformdirs

from . import wire
from .wire import DOUBLEWORD_BASE_URL

KEY_ENV = "DOUBLEWORD_API_KEY"
BASE_URL_ENV = "DOUBLEWORD_BASE_URL"
HOME_ENV = "DW_NOTEBOOK_HOME"


def home_dir() -> Path:
    """Where the package keeps its files: the user data dir, or ``DW_NOTEBOOK_HOME``."""
    return Path(os.environ.get(HOME_ENV) or platformdirs.user_data_dir("dw-notebook"))


@dataclass(frozen=True)
class Connection:
    """A base URL and the key for it. The key is never shown in reprs."""

    base_url: str
    api_key: str = field(repr=False)
    simulated: bool = False  # True for the embedded local server
    backend: str = ""  # the embedded server's model backend: "mock", "echo" or "forward"

    @property
    def answers_simulated(self) -> bool:
        """The embedded server makes the answers up (its forward backend asks a real model)."""
        return self.simulated and self.backend != "forward"

    @property
    def service_key(self) -> str:
        """Identity of the service for the registry: the embedded server has a changing port."""
        return "local" if self.simulated else service_url(self.base_url)


_LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]", "ip6-localhost", "0.0.0.0"}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def service_url(base_url: str) -> str:
    """One name per service however its URL is written: scheme and host in lower case, every
    loopback name as ``127.0.0.1``, no default port, no trailing slash, no query.

    >>> service_url("HTTP://LocalHost:80/v1/")
    'http://127.0.0.1/v1'
    """
    parts = urlsplit(base_url.strip())
    scheme = parts.scheme.lower()
    try:
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:  # a port that is not a number: left as written
        return base_url.strip().rstrip("/")
    if host in _LOOPBACK:
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), "", ""))


def missing_v1_hint(base_url: str) -> str:
    """Advice when a base URL's path lacks ``/v1`` (every Batch API route lives under it), or ""."""
    path = urlsplit(base_url.strip()).path.rstrip("/")
    if path.endswith("/v1") or "/v1/" in path:
        return ""
    return (
        f"; the base URL {base_url!r} has no /v1, and the Batch API's routes live under it: "
        f"try base_url={base_url.rstrip('/') + '/v1'!r}"
    )


@dataclass(frozen=True)
class Limits:
    """What a service takes in one batch file: its size, and the endpoints it batches."""

    max_file_bytes: int
    endpoints: tuple[str, ...]


#: Doubleword: files up to 100 MB by default (a deployment setting), and these url paths only
#: (``/v1/moderations`` is not among them). OpenAI: 200 MB, moderations included.
DOUBLEWORD_LIMITS = Limits(
    100 * 1024 * 1024, (wire.CHAT, wire.EMBEDDINGS, wire.COMPLETIONS, wire.RESPONSES)
)
OPENAI_LIMITS = Limits(
    wire.MAX_FILE_BYTES,
    (wire.CHAT, wire.EMBEDDINGS, wire.COMPLETIONS, wire.RESPONSES, wire.MODERATIONS),
)
#: Any other service (a local server, vLLM): the smaller file size, every endpoint offered.
OTHER_LIMITS = Limits(DOUBLEWORD_LIMITS.max_file_bytes, wire.ENDPOINTS)


def limits_for(connection: Connection) -> Limits:
    """The limits of the service a connection reaches, told by its host."""
    host = (urlsplit(connection.base_url).hostname or "").lower()
    if host == "doubleword.ai" or host.endswith(".doubleword.ai"):
        return DOUBLEWORD_LIMITS
    if host == "openai.com" or host.endswith(".openai.com"):
        return OPENAI_LIMITS
    return OTHER_LIMITS


def _dw_home() -> Path:
    return Path(os.environ.get("DW_CONFIG_DIR", Path.home() / ".dw"))


def key_from_dw_files(home: Path | None = None) -> str | None:
    """The inference key of the active account in ``~/.dw``, or None."""
    home = home or _dw_home()
    try:
        config = tomllib.loads((home / "config.toml").read_text())
        credentials = tomllib.loads((home / "credentials.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    account = config.get("active_account")
    if not isinstance(account, str):
        return None
    key = credentials.get("accounts", {}).get(account, {}).get("inference_key")
    return key if isinstance(key, str) and key else None


def remote_connection(api_key: str | None = None, base_url: str | None = None) -> Connection | None:
    """The connection to a real service if a key is configured, else None."""
    if api_key:
        return Connection(base_url or os.environ.get(BASE_URL_ENV, DOUBLEWORD_BASE_URL), api_key)
    env_key = os.environ.get(KEY_ENV)
    if env_key:
        url = base_url or os.environ.get(BASE_URL_ENV, DOUBLEWORD_BASE_URL)
        return Connection(url, env_key)
    file_key = key_from_dw_files()
    if file_key:
        url = base_url or os.environ.get(BASE_URL_ENV, DOUBLEWORD_BASE_URL)
        return Connection(url, file_key)
    return None
