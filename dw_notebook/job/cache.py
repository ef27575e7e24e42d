"""Result files of finished batches kept on disk, by content hash, so a second join (or one
after a kernel restart) reads them locally instead of downloading them again.

A file is cached only once its batch has ended: until then a Doubleword output file still grows.
Blobs live in ``<home>/results/<sha256>.jsonl``; the registry maps (service, file id) to them.
The cache never trusts itself over the service: a blob whose bytes no longer match the checksum
kept for it (garbled, zeroed, cut) is removed and the file is downloaded again. A cache that
cannot be written (a full disk, a read-only or damaged data dir) warns once and the join goes
on with the answers it downloaded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import tempfile
import warnings
import zlib
from pathlib import Path

from ..config import home_dir
from ..errors import RegistryError
from .registry import Registry

log = logging.getLogger(__name__)


class ResultCache:
    """Finished result files of one service."""

    def __init__(self, registry: Registry, service: str, root: Path | None = None) -> None:
        self.registry = registry
        self.service = service
        self.root = root or home_dir() / "results"
        self._warned = False

    def get(self, file_id: str) -> bytes | None:
        """The cached content of ``file_id``, or None (not cached, or the blob is damaged)."""
        try:
            entry = self.registry.cached_file(self.service, file_id)
        except RegistryError as exc:
            self._cannot(exc)
            return None
        if entry is None:
            return None
        digest, size, crc = entry
        path = self.root / f"{digest}.jsonl"
        try:
            data = path.read_bytes()
        except OSError:
            return None
        # CRC-32 finds damage (garbled, zeroed, cut) at ~7 GB/s, sha256 at ~2 GB/s: the check
        # costs a few per cent of parsing the same bytes (bench/bench_cache_digest.py)
        if len(data) == size and _intact(data, digest, crc):
            return data
        log.warning("dw-notebook: cached result file %s is damaged; reading it again", path)
        try:
            path.unlink()
        except OSError:
            pass
        return None

    def put(self, file_id: str, data: bytes) -> None:
        """Keep ``data`` as the final content of ``file_id``; a cache that cannot be written
        warns once (naming the path) and is skipped: the answers are joined all the same."""
        digest = hashlib.sha256(data).hexdigest()
        path = self.root / f"{digest}.jsonl"
        try:
            if not path.exists():
                self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
                write_blob(self.root, path, data)
            self.registry.record_cached_file(
                self.service, file_id, digest, len(data), zlib.crc32(data)
            )
        except (OSError, sqlite3.Error, RegistryError) as exc:
            self._cannot(exc)

    def _cannot(self, exc: Exception) -> None:
        if self._warned:
            return
        self._warned = True
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        warnings.warn(
            f"could not keep result files in the cache at {self.root} ({why}); the answers "
            "downloaded are joined all the same, and read from the service again next time. "
            f"Free some space there, or set DW_NOTEBOOK_HOME to a writable directory",
            stacklevel=6,
        )


def _intact(data: bytes, digest: str, crc: int | None) -> bool:
    if crc is not None:
        return zlib.crc32(data) == crc
    return hashlib.sha256(data).hexdigest() == digest  # cached before CRCs were kept


def write_blob(root: Path, path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file (one per writer: threads often cache the
    same bytes at once), so a reader never sees half a blob."""
    fd, tmp = tempfile.mkstemp(dir=root, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:  # mkstemp makes it owner-only (0600)
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
