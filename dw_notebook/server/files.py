"""File bytes on disk under the data dir; names on disk are server-made, never client input."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import BinaryIO

_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


def safe_id(value: str) -> bool:
    """True when ``value`` could be one of our ids (no separators, dots or odd characters)."""
    return bool(_SAFE_ID.match(value))


def open_private(path: Path) -> BinaryIO:
    """Open ``path`` for writing (created or truncated), readable by the owner only."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, created readable by the owner only (0600)."""
    with open_private(path) as fh:
        fh.write(data)


class FileStore:
    """Stores each file as ``<root>/files/<id>.jsonl``.

    Ids are checked against a strict pattern and the resolved path must stay inside the root,
    so no id can reach outside the data dir.
    """

    def __init__(self, root: Path) -> None:
        self.root = (Path(root) / "files").resolve()
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def path(self, file_id: str) -> Path:
        """Disk path of ``file_id``; raises ValueError for anything that is not a safe id."""
        if not safe_id(file_id):
            raise ValueError("invalid file id")
        path = (self.root / f"{file_id}.jsonl").resolve()
        if path.parent != self.root:
            raise ValueError("invalid file id")
        return path

    def create_empty(self, file_id: str) -> Path:
        """Create (or truncate) an empty file."""
        path = self.path(file_id)
        write_private(path, b"")
        return path

    def append_at(self, file_id: str, committed: int, data: bytes) -> int:
        """Write ``data`` right after the first ``committed`` bytes; returns the new size.

        Anything past ``committed`` (a write whose commit never happened) is overwritten.
        """
        path = self.path(file_id)
        if not path.exists():
            write_private(path, b"")
        with open(path, "r+b") as fh:
            fh.seek(min(committed, os.fstat(fh.fileno()).st_size))  # never leave a hole
            fh.write(data)
            fh.truncate()
            return fh.tell()

    def size(self, file_id: str) -> int:
        try:
            return self.path(file_id).stat().st_size
        except FileNotFoundError:
            return 0

    def truncate(self, file_id: str, size: int) -> None:
        """Cut a file back to ``size`` bytes (undoing a write the database never recorded)."""
        path = self.path(file_id)
        if not path.exists():
            write_private(path, b"")
        with open(path, "r+b") as fh:
            fh.truncate(size)

    def read(self, file_id: str, size: int | None = None) -> bytes:
        """Bytes of a file, at most ``size`` (the committed length) when given."""
        with open(self.path(file_id), "rb") as fh:
            return fh.read() if size is None else fh.read(size)

    def read_range(self, file_id: str, offset: int, length: int) -> bytes:
        with open(self.path(file_id), "rb") as fh:
            fh.seek(offset)
            return fh.read(length)

    def delete(self, file_id: str) -> None:
        try:
            os.remove(self.path(file_id))
        except FileNotFoundError:
            pass


def slice_lines(data: bytes, skip: int, limit: int | None) -> tuple[bytes, int, int]:
    """Lines of JSONL ``data`` after the first ``skip``, at most ``limit``.

    Returns (bytes, lines returned, total lines in ``data``).
    """
    lines = data.splitlines(keepends=True)
    total = len(lines)
    end = total if limit is None else min(total, skip + limit)
    chosen = lines[skip:end] if skip < total else []
    return b"".join(chosen), len(chosen), total
