"""A local SQLite record of every job and batch this machine created.

The fingerprint of the work is written before anything is uploaded and every id right after the
service returns it, so a batch id survives exceptions, network faults and kernel restarts, and
re-running the same cell re-attaches instead of paying twice.

The database lives in the user data dir (``DW_NOTEBOOK_HOME`` overrides it).
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..config import home_dir
from ..errors import RegistryError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    service TEXT NOT NULL,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    created_at REAL NOT NULL,
    superseded INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_by_fingerprint ON jobs (fingerprint, service);
CREATE TABLE IF NOT EXISTS batches (
    job_id TEXT NOT NULL REFERENCES jobs (job_id),
    attempt INTEGER NOT NULL,
    chunk INTEGER NOT NULL,
    input_file_id TEXT,
    batch_id TEXT,
    status TEXT,
    created_at REAL NOT NULL,
    PRIMARY KEY (job_id, attempt, chunk)
);
CREATE INDEX IF NOT EXISTS batches_by_id ON batches (batch_id);
CREATE TABLE IF NOT EXISTS result_files (
    service TEXT NOT NULL,
    file_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    crc32 INTEGER,
    PRIMARY KEY (service, file_id)
);
"""


@dataclass(frozen=True)
class BatchRecord:
    job_id: str
    attempt: int
    chunk: int
    input_file_id: str | None
    batch_id: str | None
    status: str | None


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    fingerprint: str
    service: str
    name: str
    spec: dict[str, Any]
    created_at: float
    batches: tuple[BatchRecord, ...]


class Registry:
    """Jobs and their batches; every write is committed before the call returns."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else home_dir() / "registry.sqlite3"
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # owner-only: SQLite gives its -wal and -shm files the database file's permissions
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError as exc:
            raise registry_error(self.path, exc) from None
        with self._connect() as db:
            db.executescript(_SCHEMA)
            columns = [row[1] for row in db.execute("PRAGMA table_info(result_files)")]
            if "crc32" not in columns:  # a registry made before the cache checked its reads
                db.execute("ALTER TABLE result_files ADD COLUMN crc32 INTEGER")

    def __repr__(self) -> str:
        return f"Registry({str(self.path)!r})"

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.path, timeout=30)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                with db:
                    yield db
            finally:
                db.close()
        except (sqlite3.Error, OSError) as exc:
            raise registry_error(self.path, exc) from None

    def new_job(
        self,
        fingerprint: str,
        service: str,
        name: str,
        spec: dict[str, Any],
        job_id: str | None = None,
    ) -> str:
        """Record a job before any upload; supersedes earlier jobs with the same fingerprint.
        A ``job_id`` recorded before (its batches gone from the service) starts over."""
        job_id = job_id or "job-" + uuid.uuid4().hex[:12]
        with self._connect() as db:
            db.execute(
                "UPDATE jobs SET superseded = 1 WHERE fingerprint = ? AND service = ?",
                (fingerprint, service),
            )
            db.execute("DELETE FROM batches WHERE job_id = ?", (job_id,))
            db.execute(
                "INSERT OR REPLACE INTO jobs VALUES (?, ?, ?, ?, ?, ?, 0)",
                (job_id, fingerprint, service, name, orjson.dumps(spec).decode(), time.time()),
            )
        return job_id

    def update_spec(self, job_id: str, spec: dict[str, Any]) -> None:
        """Replace a job's spec (a pilot's plan once the rest is sent)."""
        with self._connect() as db:
            db.execute(
                "UPDATE jobs SET spec = ? WHERE job_id = ?", (orjson.dumps(spec).decode(), job_id)
            )

    def record_file(self, job_id: str, attempt: int, chunk: int, input_file_id: str) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO batches (job_id, attempt, chunk, input_file_id, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (job_id, attempt, chunk)"
                " DO UPDATE SET input_file_id = excluded.input_file_id",
                (job_id, attempt, chunk, input_file_id, time.time()),
            )

    def record_batch(
        self, job_id: str, attempt: int, chunk: int, batch_id: str, status: str | None = None
    ) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO batches (job_id, attempt, chunk, batch_id, status, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (job_id, attempt, chunk)"
                " DO UPDATE SET batch_id = excluded.batch_id, status = excluded.status",
                (job_id, attempt, chunk, batch_id, status, time.time()),
            )

    def record_cached_file(
        self, service: str, file_id: str, sha256: str, size: int, crc32: int | None = None
    ) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO result_files (service, file_id, sha256, bytes, crc32)"
                " VALUES (?, ?, ?, ?, ?)",
                (service, file_id, sha256, size, crc32),
            )

    def cached_file(self, service: str, file_id: str) -> tuple[str, int, int | None] | None:
        """(sha256, size, crc32) of a finished result file kept in the cache, or None."""
        with self._connect() as db:
            row = db.execute(
                "SELECT sha256, bytes, crc32 FROM result_files WHERE service = ? AND file_id = ?",
                (service, file_id),
            ).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def forget_files(self, job_id: str, attempt: int) -> None:
        """Forget the uploads of an attempt that has no batch (they were removed)."""
        with self._connect() as db:
            db.execute(
                "DELETE FROM batches WHERE job_id = ? AND attempt = ? AND batch_id IS NULL",
                (job_id, attempt),
            )

    def record_status(self, batch_id: str, status: str) -> None:
        """Keep a batch's last status (a cache of the service's: a failed write is let go)."""
        try:
            with self._connect() as db:
                db.execute("UPDATE batches SET status = ? WHERE batch_id = ?", (status, batch_id))
        except RegistryError:
            pass

    def _load(self, db: sqlite3.Connection, row: tuple) -> JobRecord:
        job_id, fingerprint, service, name, spec, created_at, _ = row
        batches = db.execute(
            "SELECT job_id, attempt, chunk, input_file_id, batch_id, status FROM batches"
            " WHERE job_id = ? ORDER BY attempt, chunk",
            (job_id,),
        ).fetchall()
        return JobRecord(
            job_id,
            fingerprint,
            service,
            name,
            orjson.loads(spec),
            created_at,
            tuple(BatchRecord(*b) for b in batches),
        )

    def find_by_fingerprint(self, fingerprint: str, service: str) -> JobRecord | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM jobs WHERE fingerprint = ? AND service = ? AND superseded = 0"
                " ORDER BY created_at DESC LIMIT 1",
                (fingerprint, service),
            ).fetchone()
            return self._load(db, row) if row else None

    def find(self, key: str) -> JobRecord | None:
        """A job by job id, batch id or name (the newest job of that name)."""
        with self._connect() as db:
            row = db.execute(
                "SELECT j.* FROM jobs j WHERE j.job_id = ?"
                " OR j.job_id IN (SELECT job_id FROM batches WHERE batch_id = ?)"
                " OR j.name = ? ORDER BY (j.job_id = ?) DESC, j.created_at DESC LIMIT 1",
                (key, key, key, key),
            ).fetchone()
            return self._load(db, row) if row else None

    def all_jobs(self, limit: int = 200) -> list[JobRecord]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM jobs ORDER BY created_at DESC LIMIT ?", (limit,)
            ).fetchall()
            return [self._load(db, row) for row in rows]


def registry_error(path: Path, exc: BaseException) -> RegistryError:
    """One line naming the registry's path, what is wrong and what to do; nothing is lost
    either way: every job is on the service, where a re-run or ``dw.attach`` finds it."""
    text = str(exc) or type(exc).__name__
    again = (
        "then run the cell again: the service keeps every job, and the re-run (or "
        "dw.attach(name)) finds it there without paying twice"
    )
    full = "full" in text or (isinstance(exc, OSError) and exc.errno == errno.ENOSPC)
    if full:
        return RegistryError(
            f"the job registry {path} cannot be written: no space left on its disk ({text}); "
            f"free some space there or set DW_NOTEBOOK_HOME to another directory, {again}"
        )
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        return RegistryError(
            f"the job registry {path} is damaged ({text}); move it away (mv {path} "
            f"{path}.damaged) or delete it, {again}"
        )
    return RegistryError(
        f"the job registry {path} cannot be used ({text}); check that the directory is "
        f"writable, or set DW_NOTEBOOK_HOME to another directory, {again}"
    )
