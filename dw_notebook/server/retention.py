"""Freeing disk: finished batches and unused files older than a cut-off are deleted."""

from __future__ import annotations

from dataclasses import dataclass

from dw_notebook.server.files import FileStore
from dw_notebook.server.store import Store


@dataclass(frozen=True)
class Cleaned:
    """What one cleanup removed."""

    batches: int
    files: int
    bytes: int


def cleanup(store: Store, files: FileStore, cutoff: float) -> Cleaned:
    """Delete batches that ended before ``cutoff`` (server clock, Unix seconds), then every
    file created before it that no remaining batch reads or writes. Running batches and the
    files they use are never touched. Call it on the runner thread, which owns batch writes."""
    finished = store.finished_before(cutoff)
    for batch in finished:
        store.delete_batch(batch["id"])
    freed = 0
    ids = store.unused_files_before(cutoff)
    for file_id in ids:
        freed += files.size(file_id)
        store.delete_file(file_id)
        files.delete(file_id)
    return Cleaned(batches=len(finished), files=len(ids), bytes=freed)
