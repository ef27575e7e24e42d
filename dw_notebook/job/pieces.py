"""A job's results joined piece by piece: onto its dataset read again record batch by record
batch, or onto its frame a slice at a time; written to a parquet file as they come
(``job.join(path=...)``) or gathered into one frame.

Every piece is joined by ``join_frame`` exactly as a whole frame is, so the file holds the
columns and dtypes ``join()`` returns; the warnings about result lines are given once, for the
whole job, not once per piece.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import MissingResultFileError
from ..jsonl.requests.dataset import open_dataset, record_batches, row_ids
from ..jsonl.results import ResultTable, parse_results
from ..jsonl.results.join import line_report, report_warnings
from . import retry
from .reading import join_frame

#: Rows of a pandas frame joined at a time when writing to a file.
SLICE_ROWS = 100_000


class Whole:
    """Every piece joined against the same parsed lines (a frame's job, or ``partial()``)."""

    def __init__(self, table: ResultTable) -> None:
        self.summary = table

    def for_rows(self, start: int, stop: int) -> ResultTable:
        return self.summary


class ChunkWindow:
    """The finished results of a dataset job, read a request file's results at a time.

    Rows were sent in order, so the first attempt's chunk ``c`` holds rows
    ``spec["dataset"]["chunk_rows"][c]``: a piece of rows needs only the chunks that overlap
    it, and a chunk behind the rows is dropped. Later attempts (retries) and the lines made for
    batches' own errors are read once and kept, as they may name any row.
    """

    def __init__(self, job: Any, missing_files: str = "raise") -> None:
        self.job, self.missing_files = job, missing_files
        self.summary = ResultTable()  # counts and reports, each file counted once
        self.gone: list[tuple[str, str, str]] = []
        spans = job.spec["dataset"]["chunk_rows"]
        first = {r.chunk: r.batch_id for r in job._records if r.attempt == 0 and r.batch_id}
        self.chunks = [(start, stop, first[c]) for c, (start, stop) in enumerate(spans)
                       if c in first]  # fmt: skip
        later = [r.batch_id for r in job._records if r.attempt > 0 and r.batch_id]
        self.later = self._read(later, job._batch_error_lines())
        self.loaded: dict[int, tuple[list[pa.Table], list[pa.Table]]] = {}

    def _read(self, batch_ids: list[str], extra_errors: Any = ()) -> tuple[list, list]:
        outputs, errors, gone = self.job._reader.files(batch_ids, self.job._tracker.batches)
        if gone and self.missing_files == "raise":
            raise MissingResultFileError(gone)
        self.gone += gone
        parsed = parse_results(outputs), parse_results(errors=[*extra_errors, *errors])
        for table in parsed:
            _add_report(self.summary, table)
        return parsed[0].pieces, parsed[1].pieces

    def for_rows(self, start: int, stop: int) -> ResultTable:
        for c, (first, end, batch_id) in enumerate(self.chunks):
            if end <= start:
                self.loaded.pop(c, None)
            elif first < stop and c not in self.loaded:
                self.loaded[c] = self._read([batch_id])
        # outputs before errors, the first attempt before later ones: as a whole join reads
        window = ResultTable()
        window.pieces = [p for c in sorted(self.loaded) for p in self.loaded[c][0]]
        window.pieces += self.later[0]
        window.pieces += [p for c in sorted(self.loaded) for p in self.loaded[c][1]]
        window.pieces += self.later[1]
        return window


def _add_report(into: ResultTable, table: ResultTable) -> None:
    for kind in ("malformed", "salvaged", "unreadable"):
        getattr(into, kind).extend(getattr(table, kind))
        setattr(
            into, f"{kind}_count", getattr(into, f"{kind}_count") + getattr(table, f"{kind}_count")
        )
    into.lines += table.lines


def pieces(
    job: Any, results: Whole | ChunkWindow, rows: int | None = None
) -> Iterator[pd.DataFrame]:
    """The job's rows with their result columns, one piece at a time, in the rows' order."""
    spec = job.spec
    source = spec.get("dataset")
    if source is not None:
        dataset = open_dataset(source["paths"], source["format"])
        for frame in record_batches(dataset, None, rows or source["batch_rows"]):
            ids = row_ids(frame, source["id_column"], spec.get("build"))
            lines = results.for_rows(int(frame.index[0]), int(frame.index[-1]) + 1)
            yield _quiet(join_frame, frame, ids, spec, job._records, results=lines)
        return
    df, ids = job.df, job._ids()
    ids = list(ids.row_ids) if hasattr(ids, "row_ids") else list(ids)
    step = rows or SLICE_ROWS
    for start in range(0, max(len(df), 1), step):
        part = df.iloc[start : start + step]
        yield _quiet(join_frame, part, ids[start : start + step], spec, job._records,
                     results=results.summary)  # fmt: skip


def ids_to_retry(job: Any, results: ChunkWindow, **which: bool) -> set[str]:
    """``retry.ids_to_retry`` over every piece of a dataset job."""
    source, wanted = job.spec["dataset"], set()
    for piece in pieces(job, results):
        ids = row_ids(piece, source["id_column"], job.spec.get("build"))
        wanted |= retry.ids_to_retry(piece, ids, **which)
    return wanted


def _quiet(join: Any, *args: Any, **kwargs: Any) -> pd.DataFrame:
    """A piece's join without its warnings (they are about all the lines, given once)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return join(*args, **kwargs)


def report(results: Whole | ChunkWindow, matched: int) -> dict[str, Any]:
    """The ``attrs`` of the whole join, and its warnings given once."""
    summary = results.summary
    unmatched = 0
    if isinstance(results, Whole) and summary.lines:  # a window never holds every line at once
        ids = summary.table().column("custom_id")
        unmatched = max(0, int(pc.count_distinct(ids).as_py()) - matched)
    for text in report_warnings(summary):
        warnings.warn(text, stacklevel=4)
    return line_report(summary, unmatched)


def _answered(piece: pd.DataFrame) -> int:
    return int((~piece["status"].isin(["not_run", "skipped"])).sum())


def gather(job: Any, results: Whole | ChunkWindow) -> pd.DataFrame:
    """Every piece in one frame (a dataset source is read whole: see ``write`` for a file)."""
    parts = list(pieces(job, results))
    out = pd.concat(parts) if len(parts) > 1 else parts[0]
    out.attrs = report(results, sum(_answered(p) for p in parts))
    return out


def write(
    job: Any, results: Whole | ChunkWindow, path: str | os.PathLike
) -> tuple[Path, dict[str, Any]]:
    """Write the joined rows to a parquet file piece by piece; (the path, the join's attrs).

    A pandas frame keeps its index (as ``pd.read_parquet`` restores it); a dataset's rows are
    numbered from 0. A column whose values are all missing in the first piece (Arrow type
    null) is written as text."""
    path = Path(path)
    keep_index = job.spec.get("dataset") is None
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    matched = 0
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        for piece in pieces(job, results):
            matched += _answered(piece)
            table = pa.Table.from_pandas(piece, preserve_index=keep_index)
            if schema is None:
                schema = _typed(table.schema)
                writer = pq.ParquetWriter(tmp, schema)
            writer.write_table(table.cast(schema))
    except BaseException:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
        raise
    if writer is not None:
        writer.close()
    os.replace(tmp, path)
    return path, report(results, matched)


def _typed(schema: pa.Schema) -> pa.Schema:
    """Columns with no value in the first piece (Arrow type null) written as text."""
    for i, field in enumerate(schema):
        if pa.types.is_null(field.type):
            schema = schema.set(i, field.with_type(pa.large_string()))
    return schema
