"""Cell values as prompt text, one documented rule for every type.

- ``str``: as is. Lone surrogates (from bad decoding) become U+FFFD, since JSON cannot carry them.
- ``bool``: ``True`` / ``False``; integers: decimal digits.
- floats: whole numbers without ``.0`` (``3.0`` -> ``3``, as NaN-holding int columns become
  float), others the shortest round-trip form (``0.1``), ``inf`` / ``-inf``.
- dates and timestamps: ISO 8601 (``2024-01-31`` / ``2024-01-31T09:30:00``).
- ``bytes``: decoded as UTF-8, invalid bytes replaced by U+FFFD.
- lists, tuples, dicts, numpy arrays: compact JSON (``["a", 1]``).
- anything else: ``str(value)``.
- NaN / None / NaT / pd.NA: *missing*, handled by ``missing=`` ("error" | "skip" | "empty").
"""

from __future__ import annotations

import datetime as _dt
import math
import re

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

_SURROGATE = re.compile("[\ud800-\udfff]")


def fix_surrogates(text: str) -> str:
    """Replace lone surrogates with U+FFFD (the documented replacement)."""
    return _SURROGATE.sub("\ufffd", text)


def value_text(value: object) -> str:
    """Prompt text of one non-missing cell value (see module docstring)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if math.isfinite(f) and f.is_integer() and abs(f) < 1e16:
            return str(int(f))
        return repr(f)
    if isinstance(value, (pd.Timestamp, _dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (list, tuple, dict, np.ndarray)):
        return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY, default=str).decode()
    return str(value)


def missing_mask(series: pd.Series) -> np.ndarray:
    """Boolean array: True where the cell is NaN / None / NaT / NA."""
    return series.isna().to_numpy(dtype=bool)


def column_texts(series: pd.Series, mask: np.ndarray) -> list[str]:
    """Text of every cell; missing cells (``mask``) become ``""``."""
    dtype = series.dtype
    values = series.tolist()
    if isinstance(dtype, pd.StringDtype) or (dtype.kind == "O" and _all_str(values)):
        texts = values  # the common case: already text, nothing to convert
    elif dtype.kind in "iub":
        texts = list(map(str, values))
    else:
        texts = [v if isinstance(v, str) else value_text(v) for v in values]
    if mask.any():
        for i in np.flatnonzero(mask).tolist():
            texts[i] = ""
    return texts


def _all_str(values: list) -> bool:
    return all(isinstance(v, str) for v in values)


def _arrow_text(series: pd.Series) -> pa.Array | None:
    """The column as an Arrow text array without per-value Python work, when it is text."""
    dtype = series.dtype
    if not (isinstance(dtype, pd.StringDtype) or dtype.kind == "O"):
        return None
    try:
        arr = pa.array(series, from_pandas=True)
    except (pa.ArrowException, UnicodeError, TypeError, ValueError):
        return None  # mixed types, or lone surrogates Arrow cannot hold
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    return arr


def column_array(series: pd.Series, mask: np.ndarray) -> pa.Array:
    """The text of every cell as a ``large_binary`` Arrow array; missing cells are empty."""
    arr = _arrow_text(series)
    if arr is None:
        texts = column_texts(series, mask)
        try:
            arr = pa.array(texts, pa.large_string())
        except (pa.ArrowException, UnicodeError):
            arr = pa.array([fix_surrogates(t) for t in texts], pa.large_string())
    elif arr.null_count:
        arr = arr.fill_null("")
    return arr.cast(pa.large_binary())
