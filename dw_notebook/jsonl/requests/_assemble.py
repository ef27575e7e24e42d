"""Request lines from whole columns, a block of rows at a time.

A line is ``head + id + middle + value + tail + "\\n"``: head/middle/tail are literal JSON from a
skeleton request dumped once; the id and value are per-row. The value is either text (a rendered
prompt, JSON-escaped here, quotes in the literals) or ready JSON (a prompt callable's messages).
Blocks keep every temporary small, so peak memory is about one copy of the output.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dw_notebook.jsonl.requests._escape import escape_array

BLOCK_BYTES = 2 << 20  # rendered text per block: small enough to stay in cache
Part = bytes | pa.Array  # a literal, or one large_binary value per row


def _scalar(value: bytes) -> pa.Scalar:
    return pa.scalar(value, pa.large_binary())


def _block_rows(parts: Sequence[Part], n: int) -> int:
    text = sum(p.nbytes for p in parts if isinstance(p, pa.Array))
    per_row = max(1, text // max(n, 1))
    return int(max(256, min(n or 1, BLOCK_BYTES // per_row)))


def _concat(pieces: list[pa.Scalar | pa.Array], count: int) -> pa.Array:
    arrays = [p for p in pieces if isinstance(p, pa.Array)]
    if len(pieces) == 1 and arrays:
        return arrays[0]
    if not arrays:  # a prompt without placeholders: the same text on every row
        text = b"".join(p.as_py() for p in pieces)
        return pa.array([text] * count, pa.large_binary())
    return pc.binary_join_element_wise(*pieces, _scalar(b""))


def assemble_lines(
    head: bytes,
    ids: pa.Array,
    middle: bytes,
    parts: Sequence[Part],
    tail: bytes,
    *,
    escape: bool,
    digest: Any = None,
) -> tuple[bytes, np.ndarray]:
    """``(jsonl, offsets)``: line i is ``jsonl[offsets[i]:offsets[i+1]]``, newline included.

    ``ids`` are JSON-escaped here (quotes in the literals); ``parts`` (literals and per-row
    arrays, all ``large_binary``) are concatenated per row into the value, escaped if ``escape``.
    ``digest`` (a hashlib object) is fed the bytes in order, on another thread while the next
    block is made (hashlib lets go of the GIL), so hashing a large build costs little extra.
    """
    n = len(ids)
    offsets = np.zeros(n + 1, dtype=np.int64)
    if n == 0:
        return b"", offsets
    ids = escape_array(ids)
    step = _block_rows(parts, n)
    sink = io.BytesIO()
    head_s, middle_s, tail_s = _scalar(head), _scalar(middle), _scalar(tail + b"\n")
    written = 0
    hashed: Future | None = None  # the previous block's hashing (it holds that block)
    with ThreadPoolExecutor(1, thread_name_prefix="dw-hash") as hasher:
        for start in range(0, n, step):
            count = min(step, n - start)
            pieces = [p.slice(start, count) if isinstance(p, pa.Array) else _scalar(p)
                      for p in parts]  # fmt: skip
            value = _concat(pieces, count)
            if escape:
                value = escape_array(value)
            lines = pc.binary_join_element_wise(
                head_s, ids.slice(start, count), middle_s, value, tail_s, _scalar(b"")
            )
            line_offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64, count=count + 1)
            block = memoryview(lines.buffers()[2])[line_offsets[0] : line_offsets[-1]]
            sink.write(block)
            if hashed is not None:
                hashed.result()
            if digest is not None:
                hashed = hasher.submit(digest.update, block)
            offsets[start + 1 : start + count + 1] = line_offsets[1:] - line_offsets[0] + written
            written += int(line_offsets[-1] - line_offsets[0])
        if hashed is not None:
            hashed.result()
    return sink.getvalue(), offsets
