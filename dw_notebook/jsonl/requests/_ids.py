"""custom_id for every DataFrame row: the only key the join uses.

Rule, per row: when the row's index label, as text, is 1-64 printable ASCII characters (no
leading or trailing space) and no other row has the same text, the text *is* the id (``"42"``,
``"review-7"``, ``"2024-01-31T00:00:00"``, MultiIndex levels joined by ``|``). Otherwise that row
alone gets a derived id, ``"#<16 hex of blake2b(label text, values used)>"``, with ``.<k>``
added for the k-th of several rows that have the same label and values. An id never depends
on the row's position, so a sorted, filtered or widened frame gives every row the same id.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections import Counter
from collections.abc import Callable, Sequence

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


def derived_id(text: str, value: bytes = b"", k: int = 0) -> str:
    """The derived id of a row: its label text and the values its request uses, and ``k`` for
    the k-th row with the same label and values (0 for the first)."""
    key = text.encode("utf-8", "surrogatepass") + b"\x00" + value
    digest = hashlib.blake2b(key, digest_size=8).hexdigest()
    return f"#{digest}.{k}" if k else f"#{digest}"


Values = Sequence[bytes] | Callable[[], Sequence[bytes]] | None


def _derive(texts: list[str], rows: list[int], values: Values) -> dict[int, str]:
    """Derived ids of the given rows (identical label and values told apart by their order)."""
    vals = values() if callable(values) else values
    seen: dict[bytes, int] = {}
    out = {}
    blake2b = hashlib.blake2b
    for i in rows:  # derived_id inlined: this loop runs once per row of a large frame
        key = texts[i].encode("utf-8", "surrogatepass") + b"\x00"
        key += vals[i] if vals is not None else b""
        k = seen.get(key, 0)
        seen[key] = k + 1
        digest = blake2b(key, digest_size=8).hexdigest()
        out[i] = f"#{digest}.{k}" if k else f"#{digest}"
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


def make_custom_ids(index: pd.Index, values: Values = None) -> list[str]:
    """Deterministic custom_ids for ``index``, one per row, in row order.

    ``values`` (bytes per row, or a function giving them, called only when needed) are the
    values each row's request uses; they tell apart rows whose labels cannot be ids.

    >>> make_custom_ids(pd.Index(["a", "b"]))
    ['a', 'b']
    >>> make_custom_ids(pd.Index(["a", "a", "b"]))  # duplicates: derived, "b" keeps its label
    ['#4dd0bb1c45b748c1', '#4dd0bb1c45b748c1.1', 'b']
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
    counts = Counter(texts)
    bad = [i for i, t in enumerate(texts) if counts[t] > 1 or not is_valid_custom_id(t)]
    if not bad:
        return texts
    ids = list(texts)
    for i, cid in _derive(texts, bad, values).items():
        ids[i] = cid
    return ids


def other_ids(index: pd.Index, ids: list[str | None], values: Values = None) -> list[str | None]:
    """Per row, the other id it may have been sent under in a larger frame: the derived id
    where the row has its label as id (the label was duplicated there), else its label text."""
    texts = _texts(index)
    labelled = [i for i, cid in enumerate(ids) if cid is not None and cid == texts[i]]
    derived = _derive(texts, labelled, values)
    return [
        derived.get(i) if i in derived else (t if is_valid_custom_id(t) else None)
        for i, t in enumerate(texts)
    ]
