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

from ..jsonl.requests.dataset import open_dataset, record_batches, row_ids
from ..jsonl.results import ResultTable
from ..jsonl.results.join import line_report, report_warnings
from . import retry
from .reading import join_frame

#: Rows of a pandas frame joined at a time when writing to a file.
SLICE_ROWS = 100_000


def pieces(job: Any, results: ResultTable, rows: int | None = None) -> Iterator[pd.DataFrame]:
    """The job's rows with their result columns, one piece at a time, in the rows' order."""
    spec = job.spec
    source = spec.get("dataset")
    if source is not None:
        dataset = open_dataset(source["paths"], source["format"])
        for frame in record_batches(dataset, None, rows or source["batch_rows"]):
            ids = row_ids(frame, source["id_column"], spec.get("build"))
            yield _quiet(join_frame, frame, ids, spec, job._records, results=results)
        return
    df, ids = job.df, job._ids()
    ids = list(ids.row_ids) if hasattr(ids, "row_ids") else list(ids)
    step = rows or SLICE_ROWS
    for start in range(0, max(len(df), 1), step):
        part = df.iloc[start : start + step]
        yield _quiet(join_frame, part, ids[start : start + step], spec, job._records,
                     results=results)  # fmt: skip


def ids_to_retry(job: Any, results: ResultTable, **which: bool) -> set[str]:
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


def report(results: ResultTable, matched: int) -> dict[str, Any]:
    """The ``attrs`` of the whole join, and its warnings given once."""
    ids = results.table().column("custom_id")
    unmatched = max(0, int(pc.count_distinct(ids).as_py()) - matched) if len(ids) else 0
    for text in report_warnings(results):
        warnings.warn(text, stacklevel=4)
    return line_report(results, unmatched)


def _answered(piece: pd.DataFrame) -> int:
    return int((~piece["status"].isin(["not_run", "skipped"])).sum())


def gather(job: Any, results: ResultTable) -> pd.DataFrame:
    """Every piece in one frame (a dataset source is read whole: see ``write`` for a file)."""
    parts = list(pieces(job, results))
    out = pd.concat(parts) if len(parts) > 1 else parts[0]
    out.attrs = report(results, sum(_answered(p) for p in parts))
    return out


def write(job: Any, results: ResultTable, path: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
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
