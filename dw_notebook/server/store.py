"""SQLite state of files, batches and requests; the only module that speaks SQL."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    filename TEXT NOT NULL,
    purpose TEXT NOT NULL,
    bytes INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    expires_at REAL,
    status TEXT NOT NULL DEFAULT 'processed',
    batch_id TEXT,
    urls TEXT
);
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    endpoint TEXT NOT NULL,
    input_file_id TEXT NOT NULL,
    completion_window TEXT NOT NULL,
    status TEXT NOT NULL,
    out_id TEXT NOT NULL,
    err_id TEXT NOT NULL,
    output_file_id TEXT,
    error_file_id TEXT,
    created_at REAL NOT NULL,
    in_progress_at REAL,
    expires_at REAL,
    finalizing_at REAL,
    completed_at REAL,
    failed_at REAL,
    expired_at REAL,
    cancelling_at REAL,
    cancelled_at REAL,
    total INTEGER NOT NULL DEFAULT 0,
    completed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    retrying INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    out_bytes INTEGER NOT NULL DEFAULT 0,
    err_bytes INTEGER NOT NULL DEFAULT 0,
    metadata TEXT,
    errors TEXT,
    model TEXT
);
CREATE TABLE IF NOT EXISTS requests (
    batch_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    pos INTEGER NOT NULL,
    custom_id TEXT NOT NULL,
    offset INTEGER NOT NULL,
    length INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    retry_at REAL,
    PRIMARY KEY (batch_id, idx)
) WITHOUT ROWID;
-- partial: a request leaves the index once it has an outcome, and never enters another
CREATE INDEX IF NOT EXISTS requests_pending ON requests (batch_id, pos) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS requests_retry ON requests (batch_id, pos) WHERE state = 'retry';
DROP INDEX IF EXISTS requests_todo;
CREATE INDEX IF NOT EXISTS batches_status ON batches (status);
CREATE INDEX IF NOT EXISTS batches_out ON batches (out_id);
CREATE INDEX IF NOT EXISTS batches_err ON batches (err_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

TERMINAL = ("completed", "failed", "expired", "cancelled")
ACTIVE = ("validating", "in_progress", "finalizing", "cancelling")

# columns added after the first release: (table, column, declaration), added to older files
_ADDED = (
    ("files", "urls", "TEXT"),
    ("files", "requests", "INTEGER"),
    # analytics of 2xx answers (Doubleword folds only those): count, cost, time
    ("batches", "ok_requests", "INTEGER NOT NULL DEFAULT 0"),
    ("batches", "cost_pico", "INTEGER NOT NULL DEFAULT 0"),
    ("batches", "duration_ms", "REAL NOT NULL DEFAULT 0"),
)
# statements with many values each, kept under the oldest SQLite limit of 999 variables
_IN_LIST = 500  # ids per "idx IN (...)"
_ROWS_PER_INSERT = 160  # request rows (6 values each) per INSERT

Row = dict[str, Any]
# a request due to run: (idx, custom_id, offset, length, attempts, state)
Todo = tuple[int, str, int, int, int, str]


class Store:
    """Thread-safe access to one SQLite database (one connection behind a lock)."""

    def __init__(self, path: Path) -> None:
        # owner-only: SQLite gives its -wal and -shm files the database file's permissions
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            for table, column, decl in _ADDED:
                have = {r[1] for r in self._db.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def get_meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def _one(self, sql: str, args: Sequence = ()) -> Row | None:
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        return dict(row) if row else None

    def _all(self, sql: str, args: Sequence = ()) -> list[Row]:
        with self._lock:
            return [dict(r) for r in self._db.execute(sql, args).fetchall()]

    def _insert(self, table: str, row: Row) -> None:
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._lock:
            self._db.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(row.values()))

    # files
    def insert_file(self, row: Row) -> None:
        self._insert("files", row)

    def get_file(self, file_id: str) -> Row | None:
        return self._one("SELECT * FROM files WHERE id = ?", (file_id,))

    def delete_file(self, file_id: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM files WHERE id = ?", (file_id,))
        return cur.rowcount > 0

    def set_file_bytes(self, file_id: str, size: int) -> None:
        with self._lock:
            self._db.execute("UPDATE files SET bytes = ? WHERE id = ?", (size, file_id))

    def list_files(
        self, after: str | None, limit: int, purpose: str | None, ascending: bool
    ) -> tuple[list[Row], bool]:
        """One page of files; returns (rows, has_more)."""
        where, args = ["1 = 1"], []
        if purpose:
            where.append("purpose = ?")
            args.append(purpose)
        if after:
            ref = self._one("SELECT seq FROM files WHERE id = ?", (after,))
            if ref:
                where.append("seq > ?" if ascending else "seq < ?")
                args.append(ref["seq"])
        order = "ASC" if ascending else "DESC"
        rows = self._all(
            f"SELECT * FROM files WHERE {' AND '.join(where)} ORDER BY seq {order} LIMIT ?",
            (*args, limit + 1),
        )
        return rows[:limit], len(rows) > limit

    # batches
    def insert_batch(self, row: Row) -> None:
        self._insert("batches", row)

    def get_batch(self, batch_id: str) -> Row | None:
        return self._one("SELECT * FROM batches WHERE id = ?", (batch_id,))

    def batch_by_file(self, file_id: str) -> Row | None:
        return self._one("SELECT * FROM batches WHERE out_id = ? OR err_id = ?", (file_id, file_id))

    def list_batches(self, after: str | None, limit: int) -> tuple[list[Row], bool]:
        """Newest first; returns (rows, has_more)."""
        args: list = []
        where = ""
        if after:
            ref = self._one("SELECT seq FROM batches WHERE id = ?", (after,))
            if ref:
                where = "WHERE seq < ?"
                args.append(ref["seq"])
        rows = self._all(
            f"SELECT * FROM batches {where} ORDER BY seq DESC LIMIT ?", (*args, limit + 1)
        )
        return rows[:limit], len(rows) > limit

    def search_batches(
        self, after: str | None, limit: int, active_first: bool, pattern: str | None
    ) -> tuple[list[Row], bool]:
        """Doubleword's list: newest first (active ones first when asked), ``pattern`` (a
        lower-case LIKE pattern) matched against metadata text, input file name or id; an
        unknown ``after`` is ignored. Returns (rows, has_more)."""
        active = (
            "CASE WHEN b.completed_at IS NULL AND b.failed_at IS NULL AND b.cancelled_at IS NULL "
            "AND b.cancelling_at IS NULL THEN 0 ELSE 1 END"
        )
        rank = active if active_first else "0"
        where, args = ["1 = 1"], []
        if pattern is not None:
            where.append(
                "(lower(COALESCE(b.metadata, '')) LIKE ? OR lower(COALESCE(f.filename, '')) "
                "LIKE ? OR b.id LIKE ?)"
            )
            args += [pattern] * 3
        ref = self._one(f"SELECT {rank} AS rank, seq FROM batches b WHERE id = ?", (after,))
        if after and ref:
            where.append(f"({rank} > ? OR ({rank} = ? AND b.seq < ?))")
            args += [ref["rank"], ref["rank"], ref["seq"]]
        rows = self._all(
            f"SELECT b.* FROM batches b LEFT JOIN files f ON f.id = b.input_file_id "
            f"WHERE {' AND '.join(where)} ORDER BY {rank + ', ' if active_first else ''}"
            "b.seq DESC LIMIT ?",
            (*args, limit + 1),
        )
        return rows[:limit], len(rows) > limit

    def active_batches(self) -> list[Row]:
        """Batches not in a terminal state, oldest first."""
        marks = ", ".join("?" for _ in ACTIVE)
        return self._all(f"SELECT * FROM batches WHERE status IN ({marks}) ORDER BY seq", ACTIVE)

    def finished_before(self, cutoff: float) -> list[Row]:
        """Batches in a terminal state that ended before ``cutoff``."""
        marks = ", ".join("?" for _ in ACTIVE)
        ended = "COALESCE(completed_at, failed_at, expired_at, cancelled_at, created_at)"
        return self._all(
            f"SELECT * FROM batches WHERE status NOT IN ({marks}) AND {ended} < ?",
            (*ACTIVE, cutoff),
        )

    def delete_batch(self, batch_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM requests WHERE batch_id = ?", (batch_id,))
            self._db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))

    def unused_files_before(self, cutoff: float) -> list[str]:
        """Ids of files created before ``cutoff`` that no remaining batch reads or writes."""
        rows = self._all(
            "SELECT id FROM files WHERE created_at < ? AND id NOT IN"
            " (SELECT input_file_id FROM batches UNION SELECT out_id FROM batches"
            "  UNION SELECT err_id FROM batches)",
            (cutoff,),
        )
        return [r["id"] for r in rows]

    def update_batch(self, batch_id: str, expect: str | None = None, **fields: Any) -> bool:
        """Set ``fields``; when ``expect`` is given only if the status still equals it."""
        sets = ", ".join(f"{k} = ?" for k in fields)
        sql = f"UPDATE batches SET {sets} WHERE id = ?"
        args = [*fields.values(), batch_id]
        if expect is not None:
            sql += " AND status = ?"
            args.append(expect)
        with self._lock:
            return self._db.execute(sql, args).rowcount > 0

    # requests
    def start_batch(self, batch_id: str, requests: Iterable[tuple], fields: Row) -> bool:
        """Insert the requests and move the batch out of validating, in one transaction.

        ``requests`` rows are (idx, pos, custom_id, offset, length). Returns False (and changes
        nothing) when the batch left ``validating`` meanwhile (a cancel).
        """
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._lock:
            self._db.execute("BEGIN")
            try:
                ok = self._db.execute(
                    f"UPDATE batches SET {sets} WHERE id = ? AND status = 'validating'",
                    [*fields.values(), batch_id],
                ).rowcount
                if ok:
                    self._insert_requests(batch_id, requests)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return bool(ok)

    def _insert_requests(self, batch_id: str, requests: Iterable[tuple]) -> None:
        """Insert request rows many to a statement (cheaper than one statement per row)."""
        rows = list(requests)
        for i in range(0, len(rows), _ROWS_PER_INSERT):
            part = rows[i : i + _ROWS_PER_INSERT]
            self._db.execute(
                "INSERT INTO requests (batch_id, idx, pos, custom_id, offset, length) VALUES "
                + ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(part)),
                [v for r in part for v in (batch_id, *r)],
            )

    def next_requests(self, batch_id: str, now: float, limit: int) -> list[Todo]:
        """Requests due to run: pending ones, then retries whose time has come."""
        cols = "idx, custom_id, offset, length, attempts, state"
        with self._lock:
            cur = self._db.cursor()
            cur.row_factory = None  # plain tuples: no dict per row
            rows = cur.execute(
                f"SELECT {cols} FROM requests "
                "WHERE batch_id = ? AND state = 'pending' ORDER BY pos LIMIT ?",
                (batch_id, limit),
            ).fetchall()
            if len(rows) < limit:
                rows += cur.execute(
                    f"SELECT {cols} FROM requests WHERE batch_id = ? AND state = 'retry' "
                    "AND retry_at <= ? ORDER BY pos LIMIT ?",
                    (batch_id, now, limit - len(rows)),
                ).fetchall()
        return rows

    def cancel_doubleword(self, batch_id: str, now: float, keep: int = 0) -> list[int]:
        """Doubleword cancel, in one transaction: stamp ``cancelling_at`` and ``cancelled_at``
        once; a running batch stops (``cancelled``), its pending requests become ``canceled``
        except the first ``keep``, which stay in flight. Returns the idx of those kept."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                row = self._db.execute(
                    "SELECT status, cancelling_at FROM batches WHERE id = ?", (batch_id,)
                ).fetchone()
                kept: list[int] = []
                if row is not None and row["cancelling_at"] is None:
                    status = row["status"]
                    if status == "validating":  # population will skip it: cancelling for ever
                        status = "cancelling"
                    elif status in ("in_progress", "finalizing"):
                        status = "cancelled"
                        # the last pending ones: never in the chunk the runner has in hand
                        kept = [
                            r[0]
                            for r in self._db.execute(
                                "SELECT idx FROM requests WHERE batch_id = ? AND state = 'pending'"
                                " ORDER BY pos DESC LIMIT ?",
                                (batch_id, keep),
                            )
                        ]
                        self._db.execute(
                            "UPDATE requests SET state = 'canceled' WHERE batch_id = ? AND "
                            "state IN ('pending', 'retry')",
                            (batch_id,),
                        )
                        self._mark(batch_id, kept, "inflight")
                    self._db.execute(
                        "UPDATE batches SET status = ?, cancelling_at = ?, cancelled_at = ?, "
                        "retrying = 0 WHERE id = ?",
                        (status, now, now, batch_id),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return kept

    def _mark(self, batch_id: str, ids: Sequence[int], state: str) -> None:
        for i in range(0, len(ids), _IN_LIST):
            part = ids[i : i + _IN_LIST]
            self._db.execute(
                f"UPDATE requests SET state = ? WHERE batch_id = ? AND idx IN "
                f"({', '.join('?' * len(part))})",
                (state, batch_id, *part),
            )

    def requests_by_idx(self, batch_id: str, ids: Sequence[int]) -> list[Todo]:
        """The requests ``ids`` of a batch as runnable rows, in file order."""
        rows: list[Todo] = []
        with self._lock:
            for i in range(0, len(ids), _IN_LIST):
                part = ids[i : i + _IN_LIST]
                cur = self._db.cursor()
                cur.row_factory = None
                rows += cur.execute(
                    "SELECT idx, custom_id, offset, length, attempts, state FROM requests "
                    f"WHERE batch_id = ? AND idx IN ({', '.join('?' * len(part))}) ORDER BY pos",
                    (batch_id, *part),
                ).fetchall()
        return rows

    def unfinished_requests(self, batch_id: str) -> list[Row]:
        return self._all(
            "SELECT idx, custom_id, state FROM requests WHERE batch_id = ? "
            "AND state IN ('pending', 'retry') ORDER BY pos",
            (batch_id,),
        )

    def failed_requests(self, batch_id: str, state: str = "failed") -> list[Row]:
        """(idx, attempts) of a batch's requests in ``state`` (failed, or canceled)."""
        return self._all(
            "SELECT idx, attempts FROM requests WHERE batch_id = ? AND state = ?",
            (batch_id, state),
        )

    def record(self, batch_id: str, updates: Sequence[tuple], deltas: Row, fields: Row) -> None:
        """Save request outcomes, add ``deltas`` to batch counters and set ``fields``, atomically.

        ``updates`` rows are (state, attempts, retry_at, idx).
        """
        sets = [f"{k} = {k} + ?" for k in deltas] + [f"{k} = ?" for k in fields]
        # requests with the same new values (most often: all done at attempt 1) in one statement
        groups: dict[tuple, list[int]] = {}
        for st, att, at, idx in updates:
            groups.setdefault((st, att, at), []).append(idx)
        with self._lock:
            self._db.execute("BEGIN")
            try:
                for (st, att, at), ids in groups.items():
                    for i in range(0, len(ids), _IN_LIST):
                        part = ids[i : i + _IN_LIST]
                        self._db.execute(
                            "UPDATE requests SET state = ?, attempts = ?, retry_at = ? "
                            f"WHERE batch_id = ? AND idx IN ({', '.join('?' * len(part))})",
                            (st, att, at, batch_id, *part),
                        )
                if sets:
                    self._db.execute(
                        f"UPDATE batches SET {', '.join(sets)} WHERE id = ?",
                        [*deltas.values(), *fields.values(), batch_id],
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
