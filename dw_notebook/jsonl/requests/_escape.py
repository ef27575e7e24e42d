"""JSON string escaping of a whole Arrow text array at once (numpy over the data buffer).

The bytes of every value sit back to back in one buffer, so escaping is: find the bytes JSON
forbids in strings (``"``, ``\\``, controls below 0x20), widen each into its escape sequence,
and shift the offsets. UTF-8 above 0x7F passes through unchanged, as orjson also writes it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

# Bytes that need escaping, how many bytes each escape adds, and the escape letters.
_SPECIAL = np.zeros(256, dtype=bool)
_SPECIAL[:0x20] = True
_SPECIAL[[0x22, 0x5C]] = True
_EXTRA = np.zeros(256, dtype=np.int64)
_EXTRA[:0x20] = 5  # \u00XX
_SHORT = {0x22: '"', 0x5C: "\\", 0x08: "b", 0x0C: "f", 0x0A: "n", 0x0D: "r", 0x09: "t"}
_LETTER = np.zeros(256, dtype=np.uint8)
for _byte, _letter in _SHORT.items():
    _EXTRA[_byte] = 1
    _LETTER[_byte] = ord(_letter)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets relative to the first value, data bytes) of a large_binary array, no copy."""
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64, count=n + 1, offset=arr.offset * 8)
    data_buf = arr.buffers()[2]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.empty(0, "u1")
    return offsets - offsets[0], data[offsets[0] : offsets[-1]]


def escape_array(arr: pa.Array) -> pa.Array:
    """JSON-escape every value of a ``large_binary`` array (no quotes added, no nulls allowed).

    The output is byte-for-byte what ``orjson.dumps(value)[1:-1]`` gives.
    """
    if len(arr) == 0:
        return arr
    offsets, data = _buffers(arr)
    special = data < 0x20
    special |= data == 0x22
    special |= data == 0x5C
    where = np.flatnonzero(special)
    del special
    if where.size == 0:
        return arr
    found = data[where]
    extra = _EXTRA[found]
    added = np.cumsum(extra)
    starts = where + (added - extra)  # where each escape sequence begins in the output
    out = np.empty(data.size + int(added[-1]), dtype=np.uint8)
    keep = np.ones(out.size, dtype=bool)  # False at the inserted escape bytes
    short = extra == 1
    all_short = bool(short.all())
    keep[starts if all_short else starts[short]] = False
    if not all_short:
        rare = starts[~short]
        for d in range(5):
            keep[rare + d] = False
    out[keep] = data  # each original byte lands after its escape prefix
    del keep
    out[starts] = 0x5C
    if all_short:
        out[starts + 1] = _LETTER[found]
    else:
        out[starts[short] + 1] = _LETTER[found[short]]
        rare_found = found[~short]
        out[rare + 1] = ord("u")
        out[rare + 2] = ord("0")
        out[rare + 3] = ord("0")
        out[rare + 4] = _HEX[rare_found >> 4]
        out[rare + 5] = _HEX[rare_found & 0xF]
    before = np.concatenate(([0], added))[np.searchsorted(where, offsets, side="left")]
    new_offsets = offsets + before
    return pa.Array.from_buffers(
        pa.large_binary(), len(arr), [None, pa.py_buffer(new_offsets), pa.py_buffer(out)]
    )
