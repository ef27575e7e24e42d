"""Output and error lines -> result columns on a copy of the DataFrame, joined by custom_id.

>>> out = join_results(df, built, outputs=[output_bytes], errors=[error_bytes])
>>> out[["sentiment", "status"]]

``_lines`` parses lines (``_body`` reads answers, ``_salvage`` lines that are not strict JSON),
``_table`` collects them into a ``ResultTable``, ``_answers`` checks structured answers against
the schema, and ``join`` lays the winning line of each row onto the DataFrame.
"""

from dw_notebook.jsonl.results._lines import (
    CANCELLED,
    EXPIRED,
    FAILED,
    NOT_RUN,
    OK,
    RESULT_SCHEMA,
    SKIPPED,
    STATUSES,
    UNPARSED,
    UNREADABLE,
)
from dw_notebook.jsonl.results._salvage import salvage_fields
from dw_notebook.jsonl.results._table import ResultTable, parse_results
from dw_notebook.jsonl.results.counts import RowCounts, row_counts
from dw_notebook.jsonl.results.join import META_COLUMNS, join_results

__all__ = [
    "CANCELLED",
    "EXPIRED",
    "FAILED",
    "META_COLUMNS",
    "NOT_RUN",
    "OK",
    "RESULT_SCHEMA",
    "SKIPPED",
    "STATUSES",
    "UNPARSED",
    "UNREADABLE",
    "ResultTable",
    "RowCounts",
    "join_results",
    "parse_results",
    "row_counts",
    "salvage_fields",
]
