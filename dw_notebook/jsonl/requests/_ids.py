"""custom_id for every DataFrame row: the only key the join uses.

Rule: when every index label, as text, is 1-64 printable ASCII characters (no leading or trailing
space) and those texts are unique, the text *is* the id (``"42"``, ``"review-7"``,
``"2024-01-31T00:00:00"``, MultiIndex levels joined by ``|``). Otherwise every row gets
``"<position>-<8 hex of blake2b(label text)>"``: unique by position, and a frame that was
reordered since the build does not match silently (its ids differ, so rows come back ``not_run``).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dw_notebook.wire import MAX_CUSTOM_ID_LENGTH

# 1..64 printable ASCII characters, no leading or trailing space
_VALID_RE = r"^[\x21-\x7e](?:[\x20-\x7e]{0,62}[\x21-\x7e])?$"


def label_text(label: object) -> str:
    """Stable text of one index label (tuples for MultiIndex rows)."""
    if isinstance(label, str):
        return label
    if isinstance(label, tuple):
        return "|".join(label_text(part) for part in label)
    if isinstance(label, (bool, np.bool_)):
        return str(bool(label))
    if isinstance(label, (int, np.integer)):
        return str(int(label))
    if isinstance(label, (pd.Timestamp, _dt.datetime, _dt.date)):
        return label.isoformat()
    if isinstance(label, (float, np.floating)):
        return repr(float(label))
    return str(label)


def is_valid_custom_id(text: str) -> bool:
    """1..64 printable ASCII characters, no leading/trailing space (safe as an HTTP header)."""
    if not text or len(text) > MAX_CUSTOM_ID_LENGTH or not text.isascii():
        return False
    if text[0] == " " or text[-1] == " ":
        return False
    return text.isprintable()


def _texts(index: pd.Index) -> list[str]:
    if isinstance(index, pd.RangeIndex):
        return list(map(str, index))
    if isinstance(index, pd.MultiIndex):
        return [label_text(t) for t in index]
    if index.dtype.kind in "iu":
        return list(map(str, index.tolist()))
    if isinstance(index, pd.DatetimeIndex):
        return [ts.isoformat() if ts is not pd.NaT else "NaT" for ts in index]
    return [label_text(v) for v in index.tolist()]


def _derived(texts: Iterable[str]) -> list[str]:
    out = []
    for pos, text in enumerate(texts):
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=4).hexdigest()
        out.append(f"{pos}-{digest}")
    return out


def _all_valid_strings(index: pd.Index) -> bool:
    """Vectorised check of a text index: every label a valid custom_id (uniqueness aside)."""
    try:
        arr = pa.array(index, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError, UnicodeError):
        return False
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)) or arr.null_count:
        return False
    return bool(pc.all(pc.match_substring_regex(arr, _VALID_RE)).as_py() is not False)


def make_custom_ids(index: pd.Index) -> list[str]:
    """Deterministic custom_ids for ``index``, one per row, in row order.

    >>> make_custom_ids(pd.Index(["a", "b"]))
    ['a', 'b']
    >>> make_custom_ids(pd.Index(["a", "a"]))  # duplicates: position + label hash
    ['0-ca234c55', '1-ca234c55']
    """
    if isinstance(index, pd.RangeIndex):
        return list(map(str, index))  # unique, short, ASCII
    unique = index.is_unique
    if unique and not isinstance(index, pd.MultiIndex) and index.inferred_type == "string":
        if _all_valid_strings(index):
            return index.tolist()
    texts = _texts(index)
    if unique and index.dtype.kind in "iu":
        return texts  # distinct integers have distinct, valid texts
    if len(set(texts)) == len(texts) and all(map(is_valid_custom_id, texts)):
        return texts
    return _derived(texts)
