"""DataFrame -> batch request lines (JSONL bytes), validated before anything is sent.

>>> built = build_requests(df, model="Qwen/Qwen3-14B-FP8", prompt="Sentiment: {review}",
...                        system="Answer in one word.", temperature=0)
>>> built.preview(1)
>>> estimate_cost(built)

Cell values become prompt text by one rule: text as is; integers and booleans as ``str()``;
floats without a trailing ``.0`` when whole, else their shortest repr; dates ISO 8601; bytes
decoded as UTF-8; lists/dicts/arrays as compact JSON; anything else ``str()``. NaN/None/NaT are
*missing* and follow ``missing=`` ("error", "skip" or "empty"). Lone surrogates, which JSON
cannot carry, become U+FFFD. custom_ids follow ``make_custom_ids``.
"""

from dw_notebook.jsonl.requests._builder import ENDPOINTS, build_requests
from dw_notebook.jsonl.requests._built import BuiltRequests, Chunk
from dw_notebook.jsonl.requests._ids import make_custom_ids, other_ids
from dw_notebook.jsonl.requests.errors import (
    BuildError,
    CustomIdError,
    EmptyPromptError,
    InvalidTextError,
    LineTooLargeError,
    MissingColumnsError,
    MissingValuesError,
)
from dw_notebook.jsonl.requests.estimate import CostEstimate, estimate_cost

__all__ = [
    "ENDPOINTS",
    "BuildError",
    "BuiltRequests",
    "Chunk",
    "CostEstimate",
    "CustomIdError",
    "EmptyPromptError",
    "InvalidTextError",
    "LineTooLargeError",
    "MissingColumnsError",
    "MissingValuesError",
    "build_requests",
    "estimate_cost",
    "make_custom_ids",
    "other_ids",
]
