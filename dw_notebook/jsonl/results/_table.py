"""Parsed result lines from any number of files and batches: the table the join reads.

Each piece of an output or error file is read by Arrow's JSON reader first. Anything that reader
refuses (a malformed line, an unexpected type, a 2xx without an answer) is retried in smaller
blocks, and a block that still fails is read line by line, which reports the exact lines it
could not read plainly: salvaged, unreadable (the row's answer came back but cannot be read)
and malformed (no custom_id).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from dw_notebook.jsonl.results._lines import (
    RESULT_SCHEMA,
    UNREADABLE,
    Malformed,
    fast_table,
    line_record,
    records_table,
    salvaged_record,
)
from dw_notebook.jsonl.results._salvage import lenient_loads

_MAX_MALFORMED_KEPT = 100
_FAST_MIN_BYTES = 32 * 1024  # smaller pieces go straight to the per-line parser
_RETRY_BLOCK = 1 << 20  # a piece the Arrow reader refuses is retried in blocks this size


def _place(where: dict[str, Any]) -> str:
    """'batch_1 output file file-9 line 17' (or what is known of it)."""
    text = f"{where['source']} line {where['line']}" if where["source"] else f"line {where['line']}"
    return f"batch {where['batch_id']} {text}" if where.get("batch_id") else text


class ResultTable:
    """Parsed result lines from any number of files and batches, fed in whole-line pieces::

    table = ResultTable()
    table.add(output_bytes, batch_id="batch_1")
    table.add(error_bytes, batch_id="batch_1")
    """

    def __init__(self) -> None:
        self.pieces: list[pa.Table] = []
        self.malformed: list[dict[str, Any]] = []  # lines naming no custom_id: ignored
        self.malformed_count = 0
        self.salvaged: list[dict[str, Any]] = []  # not strict JSON, read anyway
        self.salvaged_count = 0
        self.unreadable: list[dict[str, Any]] = []  # a row's line, its answer unreadable
        self.unreadable_count = 0
        self.lines = 0
        self.answers: Any = None  # the last join's checked answers (join._parsed_answers)

    @classmethod
    def merged(cls, tables: Iterable[ResultTable]) -> ResultTable:
        """One table of several read apart (one per file, say), as if fed in this order:
        pieces in order, counts summed, the first lines of each report kept."""
        out = cls()
        for table in tables:
            out.extend(table)
        return out

    def extend(self, other: ResultTable) -> None:
        """Append ``other``'s pieces and reports after this table's own."""
        self.pieces.extend(other.pieces)
        self.lines += other.lines
        for kind in ("malformed", "salvaged", "unreadable"):
            kept = getattr(self, kind)
            kept.extend(getattr(other, kind)[: max(0, _MAX_MALFORMED_KEPT - len(kept))])
            count = f"{kind}_count"
            setattr(self, count, getattr(self, count) + getattr(other, count))

    def add(
        self,
        data: bytes | bytearray | memoryview,
        batch_id: str | None = None,
        source: str = "",
        first_line: int = 1,
    ) -> int:
        """Parse whole JSONL lines; returns how many result lines were read.

        ``source`` names the file in reports (``"output file file-9"``); ``first_line`` is the
        number of the first line of ``data`` in that file (a piece read after others).
        """
        raw = bytes(data)
        if not raw or raw.isspace():
            return 0
        tables = self._parse(raw, batch_id, source, first_line=first_line, whole=True)
        self.pieces.extend(tables)
        read = sum(t.num_rows for t in tables)
        self.lines += read
        return read

    def _parse(
        self, raw: bytes, batch_id: str | None, source: str, first_line: int, whole: bool
    ) -> list[pa.Table]:
        """Arrow's reader where it can; a piece it refuses is retried in smaller blocks, and
        only the blocks that still fail are read line by line (with exact line numbers)."""
        table = fast_table(raw, batch_id) if len(raw) >= _FAST_MIN_BYTES else None
        if table is not None:
            return [table]
        if not whole or len(raw) < 2 * _RETRY_BLOCK:
            return [self._parse_lines(raw, batch_id, source, first_line)]
        tables, start, line = [], 0, first_line
        while start < len(raw):
            end = raw.find(b"\n", min(start + _RETRY_BLOCK, len(raw)) - 1)
            end = len(raw) if end < 0 else end + 1
            block = raw[start:end]
            tables.extend(self._parse(block, batch_id, source, line, whole=False))
            line += block.count(b"\n")
            start = end
        return tables

    def _parse_lines(
        self, raw: bytes, batch_id: str | None, source: str, first_line: int = 1
    ) -> pa.Table:
        records = []
        for number, line in enumerate(raw.split(b"\n"), start=first_line):
            if not line.strip():
                continue
            where = {"source": source, "line": number, "batch_id": batch_id}
            try:
                rec, how = line_record(orjson.loads(line)), None
            except orjson.JSONDecodeError as exc:
                how = f"not strict JSON ({exc})"
                try:
                    rec = line_record(lenient_loads(line))
                except ValueError:  # not JSON at all (also Malformed): pick out the fields
                    try:
                        rec = salvaged_record(line)
                    except Malformed as bad:
                        self._report("malformed", where, f"{type(bad).__name__}: {bad}", line)
                        continue
            except Malformed as exc:
                self._report("malformed", where, f"{type(exc).__name__}: {exc}", line)
                continue
            if rec["status"] == UNREADABLE:
                reason = rec["error"] if how is None else f"{rec['error']}; {how}"
                rec["error"] = f"answer received but unreadable ({_place(where)}): {reason}"
                self._report("unreadable", where, reason, line, rec["custom_id"])
            elif how is not None:
                self._report("salvaged", where, how, line, rec["custom_id"])
            records.append(rec)
        return records_table(records, batch_id)

    def _report(
        self, kind: str, where: dict[str, Any], reason: str, line: bytes, cid: str | None = None
    ) -> None:
        kept, count = getattr(self, kind), f"{kind}_count"
        setattr(self, count, getattr(self, count) + 1)
        if len(kept) < _MAX_MALFORMED_KEPT:
            entry = {**where, "reason": reason, "text": line[:200].decode("utf-8", "replace")}
            if cid is not None:
                entry["custom_id"] = cid
            kept.append(entry)

    def table(self) -> pa.Table:
        """Every parsed line, in the order fed (duplicates included)."""
        if not self.pieces:
            return RESULT_SCHEMA.empty_table()
        return pa.concat_tables(self.pieces)

    def __len__(self) -> int:
        """Distinct custom_ids seen."""
        return len(pc.unique(self.table().column("custom_id")))


def _pieces(items: Iterable[Any], kind: str) -> Iterable[tuple[bytes, str | None, str]]:
    """(bytes, batch id, source) of every piece: bytes, ``(batch_id, bytes)`` or
    ``(batch_id, bytes, file_id)``."""
    for number, item in enumerate(items or ()):
        if not isinstance(item, tuple):
            yield item, None, f"{kind}[{number}]"
        elif len(item) == 3:
            yield item[1], item[0], f"{kind[:-1]} file {item[2]}"
        else:
            yield item[1], item[0], f"{kind}[{number}]"


def parse_results(
    outputs: Iterable[bytes | tuple[str, bytes]] = (),
    errors: Iterable[bytes | tuple[str, bytes]] = (),
    table: ResultTable | None = None,
) -> ResultTable:
    """Parse output and error files (bytes, or ``(batch_id, bytes)``) into a ``ResultTable``."""
    table = table if table is not None else ResultTable()
    for data, batch_id, source in _pieces(outputs, "outputs"):
        table.add(data, batch_id, source)
    for data, batch_id, source in _pieces(errors, "errors"):
        table.add(data, batch_id, source)
    return table
