"""A dataset beyond memory (parquet paths, a glob, a directory, a ``pyarrow.dataset.Dataset``)
becomes request lines in bounded record batches, each built by ``build_requests``.

Only the columns the requests use are read, ``batch_rows`` rows at a time, so memory is bounded
by one record batch and one request file, never by the dataset. Rows are numbered in the
dataset's order (files sorted by path), which is the order of the request lines and of the join.

>>> requests = build_dataset("reviews/*.parquet", model="m", prompt="Classify: {text}",
...                          id_column="review_id")
>>> requests.n, requests.preview(1)[0]["custom_id"]
"""

from __future__ import annotations

import glob
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from dw_notebook import wire
from dw_notebook.jsonl.requests._builder import build_requests
from dw_notebook.jsonl.requests._built import BuiltRequests
from dw_notebook.jsonl.requests._ids import label_text
from dw_notebook.jsonl.requests._template import parse_template
from dw_notebook.jsonl.requests.errors import BuildError, CustomIdError, MissingColumnsError
from dw_notebook.jsonl.requests.estimate import CostEstimate, estimate_cost
from dw_notebook.prices import PricesArg, price_for

#: Rows read and built at a time: bounds the memory of a build, a submit and a join.
BATCH_ROWS = 100_000
_GLOB = set("*?[")
_READ_BUFFER = 1 << 20  # bytes read from a parquet file at a time


def is_dataset_source(source: Any) -> bool:
    """True for what ``build_dataset`` reads: a path, a glob, a list of paths or a dataset."""
    if isinstance(source, (str, os.PathLike, ds.Dataset)):
        return True
    return (
        isinstance(source, (list, tuple))
        and bool(source)
        and all(isinstance(p, (str, os.PathLike)) for p in source)
    )


def dataset_files(source: Any) -> tuple[list[str], str]:
    """(absolute file paths in reading order, format) of a dataset source; a glob or a
    directory that names no file is refused, naming it."""
    if isinstance(source, ds.Dataset):
        if not isinstance(source, ds.FileSystemDataset):
            raise BuildError(
                "an in-memory pyarrow dataset cannot be read again after a restart. Fix: write "
                "it to parquet files and pass their paths, or pass a pandas DataFrame."
            )
        return [os.path.abspath(p) for p in source.files], source.format.default_extname
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    paths: list[str] = []
    for item in map(str, items):
        if _GLOB & set(item):
            found = sorted(p for p in glob.glob(item, recursive=True) if os.path.isfile(p))
        elif os.path.isdir(item):
            found = sorted(ds.dataset(item, format="parquet").files)
        else:
            found = [item] if os.path.isfile(item) else []
        if not found:
            raise BuildError(
                f"no parquet file at {item!r}. Fix: pass an existing file, directory or glob "
                "(e.g. 'reviews/*.parquet'), or a pandas DataFrame."
            )
        paths += [os.path.abspath(p) for p in found]
    return paths, "parquet"


def open_dataset(paths: list[str], file_format: str = "parquet") -> ds.Dataset:
    return ds.dataset(paths, format=file_format)


def record_batches(
    dataset: ds.Dataset, columns: list[str] | None, batch_rows: int = BATCH_ROWS
) -> Iterator[pd.DataFrame]:
    """The dataset as DataFrames of at most ``batch_rows`` rows, indexed by row number.

    Parquet files are read page by page through small buffers: the dataset scanner decodes a
    whole row group at once (a file written by pandas has one of up to a million rows), about
    3x the memory of a 100,000-row batch read this way."""
    start = 0
    for batch in _arrow_batches(dataset, columns, batch_rows):
        if batch.num_rows:
            frame = batch.to_pandas()
            frame.index = pd.RangeIndex(start, start + batch.num_rows)
            start += batch.num_rows
            yield frame


def _arrow_batches(
    dataset: ds.Dataset, columns: list[str] | None, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    if not isinstance(dataset.format, ds.ParquetFileFormat):
        scanner = dataset.scanner(
            columns=columns, batch_size=batch_rows, batch_readahead=1, fragment_readahead=1
        )
        yield from scanner.to_batches()
        return
    for path in dataset.files:
        with pq.ParquetFile(path, pre_buffer=False, buffer_size=_READ_BUFFER) as file:
            yield from file.iter_batches(batch_size=batch_rows, columns=columns)


def used_columns(build_args: dict[str, Any], id_column: str, names: list[str]) -> list[str] | None:
    """The columns the requests read (None: all, for a prompt function), the id column first;
    a column the dataset lacks is refused, naming the ones it has."""
    prompt, input_column = build_args.get("prompt"), build_args.get("input_column")
    if callable(prompt):
        wanted = None
    elif input_column is not None:
        wanted = [input_column]
    elif isinstance(prompt, str):
        wanted = list(parse_template(prompt).columns)
    else:
        wanted = []
    absent = [c for c in [id_column, *(wanted or [])] if c not in names]
    if absent:
        raise MissingColumnsError(absent, names)
    return None if wanted is None else list(dict.fromkeys([id_column, *wanted]))


@dataclass(frozen=True)
class SpooledChunk:
    """One request file written to disk; ``rows`` is the range of dataset rows it holds."""

    path: Path
    n: int
    nbytes: int
    rows: tuple[int, int]

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()


class _Spool:
    """Request lines cut into files of at most ``max_requests`` lines and ``max_bytes`` bytes."""

    def __init__(self, directory: Path, max_requests: int, max_bytes: int) -> None:
        self.directory, self.max_requests, self.max_bytes = directory, max_requests, max_bytes
        self.chunks: list[SpooledChunk] = []
        self._file: Any = None
        self._n = self._bytes = 0
        self._rows = (0, 0)

    def add(self, piece: BuiltRequests) -> None:
        offsets, data, i = piece.line_offsets, memoryview(piece.data), 0
        while i < piece.n:
            if self._file is None:
                path = self.directory / f"{len(self.chunks)}.jsonl"
                self._file, self._n, self._bytes = open(path, "wb"), 0, 0  # noqa: SIM115
                self._rows = (int(piece.positions[i]), 0)
            limit = offsets[i] + self.max_bytes - self._bytes
            stop = int(np.searchsorted(offsets, limit, side="right")) - 1
            stop = min(stop, i + self.max_requests - self._n, piece.n)
            if stop <= i and not self._n:
                size = int(offsets[i + 1] - offsets[i])
                raise ValueError(
                    f"a request is {size:,} bytes, more than max_bytes={self.max_bytes:,}"
                )
            if stop <= i:  # the next line does not fit: this file is full
                self._close()
                continue
            self._file.write(data[int(offsets[i]) : int(offsets[stop])])
            self._n += stop - i
            self._bytes += int(offsets[stop] - offsets[i])
            self._rows = (self._rows[0], int(piece.positions[stop - 1]) + 1)
            i = stop
            if self._n >= self.max_requests:
                self._close()

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            path = Path(self._file.name)
            self.chunks.append(SpooledChunk(path, self._n, self._bytes, self._rows))
            self._file = None

    def finish(self) -> list[SpooledChunk]:
        self._close()
        return self.chunks


class DatasetRequests:
    """Request lines of a dataset, built record batch by record batch: counts, the first few
    lines, the token estimate and (for a submit) the request files spooled to disk.

    ``preview(n)`` shows the first requests; ``dw.estimate(requests, window)`` the cost.
    """

    def __init__(self, paths: list[str], file_format: str, id_column: str) -> None:
        self.paths, self.format, self.id_column = paths, file_format, id_column
        self.endpoint = wire.CHAT
        self.model = ""
        self.params: dict[str, Any] = {}
        self.schema: dict | None = None
        self.n = self.n_rows = self.nbytes = 0
        self.skipped: list[Any] = []  # the first skipped rows (row numbers)
        self.n_skipped = 0
        self.columns: list[str] | None = None
        self._first: list[bytes] = []
        self._tokens = (0, 0, False)
        self._digest = hashlib.sha256()
        self._spool_dir: tempfile.TemporaryDirectory | None = None
        self._chunks: list[SpooledChunk] = []
        self._limits: tuple[int, int] | None = None

    def __len__(self) -> int:
        return self.n

    def fingerprint(self) -> str:
        """sha256 hex of the endpoint and every request line (a changed file: another job)."""
        return self._digest.hexdigest()

    def chunks(
        self, max_requests: int = wire.MAX_REQUESTS_PER_FILE, max_bytes: int = wire.MAX_FILE_BYTES
    ) -> list[SpooledChunk]:
        """The request files written by a build with ``spool=True`` (on disk until ``close``)."""
        if self._limits != (max_requests, max_bytes):
            raise ValueError(
                "these requests were not spooled with these file limits; build with "
                f"build_dataset(..., spool=True, max_requests={max_requests}, "
                f"max_bytes={max_bytes})"
            )
        return list(self._chunks)

    def close(self) -> None:
        """Delete the spooled request files."""
        if self._spool_dir is not None:
            self._spool_dir.cleanup()
            self._spool_dir = None

    def __enter__(self) -> DatasetRequests:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def preview(self, n: int = 3) -> list[dict]:
        """The first ``n`` requests (up to 5 are kept) as dicts, exactly as they will be sent."""
        return [orjson.loads(line) for line in self._first[:n]]

    def estimate(self, window: str = "24h", prices: PricesArg = None) -> CostEstimate:
        """The cost of every request, from the token counts summed over the record batches."""
        if window not in wire.COMPLETION_WINDOWS:
            raise ValueError(f"window must be one of {sorted(wire.COMPLETION_WINDOWS)}")
        input_tokens, output_tokens, capped = self._tokens
        return CostEstimate(
            model=self.model, window=window, n_requests=self.n, input_tokens=input_tokens,
            output_tokens=output_tokens, output_capped=capped,
            price=price_for(self.model, window, prices),
        )  # fmt: skip

    def _add(self, piece: BuiltRequests, spool: _Spool | None) -> None:
        if not self.model:
            self.endpoint, self.model, self.params = piece.endpoint, piece.model, piece.params
            self.schema = piece.schema
            self._digest.update(b"dataset\n" + piece.endpoint.encode() + b"\n")
        self._digest.update(piece.data)
        self.n += piece.n
        self.n_rows += piece.n_rows
        self.nbytes += piece.nbytes
        self.n_skipped += len(piece.skipped)
        self.skipped += piece.skipped[: max(0, 20 - len(self.skipped))]
        self._first += [piece.line(i) for i in range(min(5 - len(self._first), piece.n))]
        if piece.n:
            cost = estimate_cost(piece)
            i, o, capped = self._tokens
            self._tokens = (i + cost.input_tokens, o + cost.output_tokens, cost.output_capped)
        if spool is not None:
            spool.add(piece)

    def __repr__(self) -> str:
        size = f"{self.nbytes / 1e6:,.1f} MB"
        text = f"{self.n:,} requests to {self.endpoint} · model {self.model} · {size}"
        text += f" · from {len(self.paths)} {self.format} file{'s' * (len(self.paths) != 1)}"
        if self.n_skipped:
            text += f" · {self.n_skipped:,} rows skipped"
        return f"DatasetRequests({text})"


def build_dataset(
    source: Any,
    *,
    id_column: str | None = None,
    batch_rows: int = BATCH_ROWS,
    spool: bool = False,
    max_requests: int = wire.MAX_REQUESTS_PER_FILE,
    max_bytes: int = wire.MAX_FILE_BYTES,
    on_rows: Callable[[int, int | None], None] | None = None,
    **build_args: Any,
) -> DatasetRequests:
    """Build the requests of every row of a dataset source, ``batch_rows`` rows at a time.

    ``id_column`` (required) holds each row's custom_id: unique over the whole dataset, 1-64
    printable ASCII characters; ``build_args`` are those of ``build_requests``. ``spool=True``
    writes the request files (``max_requests`` / ``max_bytes`` each) to a temporary directory
    for upload; ``close()`` deletes them. ``on_rows(read, total)`` hears the rows read so far
    after each batch (``total`` from parquet metadata, else None).
    """
    if id_column is None:
        raise BuildError(
            "a dataset source needs id_column=: the name of a column of unique row ids (e.g. "
            "id_column='review_id'), so answers can be joined back after the data is re-read. "
            "Fix: add such a column, or load the data with pd.read_parquet and pass the frame."
        )
    paths, file_format = dataset_files(source)
    dataset = open_dataset(paths, file_format)
    out = DatasetRequests(paths, file_format, id_column)
    out.columns = used_columns(build_args, id_column, dataset.schema.names)
    writer = None
    if spool:
        out._spool_dir = tempfile.TemporaryDirectory(prefix="dw-requests-")
        out._limits = (max_requests, max_bytes)
        writer = _Spool(Path(out._spool_dir.name), max_requests, max_bytes)
    hashes: list[np.ndarray] = []
    parquet = isinstance(dataset.format, ds.ParquetFileFormat)
    total = dataset.count_rows() if on_rows is not None and parquet else None  # from metadata
    try:
        for frame in record_batches(dataset, out.columns, batch_rows):
            piece = build_requests(frame, id_column=id_column, **build_args)
            ids = np.asarray(piece.custom_ids, dtype=object)
            hashes.append(pd.util.hash_array(ids, categorize=False))
            # ``positions`` are within the batch; the spool and the join need row numbers
            piece.positions = piece.positions + int(frame.index[0])
            del frame, ids
            out._add(piece, writer)
            del piece  # before the next batch is read: one batch's requests at a time
            if on_rows is not None:
                on_rows(out.n_rows, total)
        if writer is not None:
            out._chunks = writer.finish()
        _refuse_repeated_ids(dataset, out, hashes, batch_rows)
    except BaseException:
        if writer is not None:
            writer.finish()
        out.close()
        raise
    return out


def _refuse_repeated_ids(
    dataset: ds.Dataset, out: DatasetRequests, hashes: list[np.ndarray], batch_rows: int
) -> None:
    """Ids repeated across record batches (each batch checks its own), found by 8-byte hashes
    so the whole dataset's ids are never held; rows whose hashes meet are compared for real."""
    if len(hashes) < 2:
        return
    every = np.sort(np.concatenate(hashes))
    met = set(every[1:][every[1:] == every[:-1]].tolist())
    del every
    if not met:
        return
    seen: dict[str, int] = {}
    repeated: list[int] = []
    for frame in record_batches(dataset, [out.id_column], batch_rows):
        ids = np.asarray([label_text(v) for v in frame[out.id_column].tolist()], dtype=object)
        near = np.isin(pd.util.hash_array(ids, categorize=False), list(met))
        for row, cid in zip(frame.index[near].tolist(), ids[near].tolist(), strict=True):
            if cid in seen:
                repeated += [seen[cid], row]
            seen.setdefault(cid, row)
    if repeated:
        rows = sorted(set(repeated))
        raise CustomIdError(rows, f"the same id appears more than once in {out.id_column!r}")


def row_ids(frame: pd.DataFrame, id_column: str, build: dict[str, Any] | None) -> list[str | None]:
    """Per row of a record batch, the custom_id it was sent under (None: left out by
    ``missing="skip"``), without building its request again."""
    ids: list[str | None] = [label_text(v) for v in frame[id_column].tolist()]
    build = build or {}
    if build.get("missing") != "skip":
        return ids
    columns = used_columns(build, id_column, list(frame.columns)) or list(frame.columns)
    absent = np.zeros(len(frame), dtype=bool)
    for column in columns[1:]:
        absent |= frame[column].isna().to_numpy(dtype=bool)
    return [None if a else cid for cid, a in zip(ids, absent.tolist(), strict=True)]
