"""Result files of finished batches kept on disk, by content hash, so a second join (or one
after a kernel restart) reads them locally instead of downloading them again.

A file is cached only once its batch has ended: until then a Doubleword output file still grows.
Blobs live in ``<home>/results/<sha256>.jsonl``; the registry maps (service, file id) to them.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from ..config import home_dir
from .registry import Registry


class ResultCache:
    """Finished result files of one service."""

    def __init__(self, registry: Registry, service: str, root: Path | None = None) -> None:
        self.registry = registry
        self.service = service
        self.root = root or home_dir() / "results"

    def get(self, file_id: str) -> bytes | None:
        """The cached content of ``file_id``, or None (not cached, or the blob is damaged)."""
        entry = self.registry.cached_file(self.service, file_id)
        if entry is None:
            return None
        digest, size = entry
        try:
            data = (self.root / f"{digest}.jsonl").read_bytes()
        except OSError:
            return None
        return data if len(data) == size else None

    def put(self, file_id: str, data: bytes) -> None:
        """Keep ``data`` as the final content of ``file_id``."""
        digest = hashlib.sha256(data).hexdigest()
        path = self.root / f"{digest}.jsonl"
        if not path.exists():
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            # one temp file per writer: threads often cache the same bytes at once
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{digest}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:  # mkstemp makes it owner-only (0600)
                fh.write(data)
            os.replace(tmp, path)
        self.registry.record_cached_file(self.service, file_id, digest, len(data))
