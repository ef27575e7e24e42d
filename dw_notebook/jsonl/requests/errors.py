"""Errors raised while building request lines, before anything is sent.

Every error names the rows it is about (``.rows``, a list of DataFrame index labels) and says
how to fix the problem in its message::

    BuildError (ValueError)
    ├── MissingColumnsError     template names a column the DataFrame does not have
    ├── MissingValuesError      NaN/None in a column the prompt uses
    ├── EmptyPromptError        a rendered prompt is empty or only whitespace
    ├── InvalidTextError        text that cannot be encoded (e.g. a prompt callable returned junk)
    ├── LineTooLargeError       one request line is larger than the per-file limit
    └── CustomIdError           custom ids from ``id_column`` are duplicated, too long or not ASCII
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_SHOWN = 5


def format_rows(rows: Sequence[Any], shown: int = _SHOWN) -> str:
    """``rows 4, 17, 99`` or ``rows 4, 17, 99, ... (12 more)`` for messages."""
    head = ", ".join(repr(r) if isinstance(r, str) else str(r) for r in rows[:shown])
    more = len(rows) - shown
    word = "row" if len(rows) == 1 else "rows"
    return f"{word} {head}" + (f", ... ({more} more)" if more > 0 else "")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class BuildError(ValueError):
    """A problem found in the DataFrame or the build arguments; nothing was sent."""

    def __init__(self, message: str, rows: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.rows: list[Any] = list(rows)


class MissingColumnsError(BuildError):
    def __init__(self, missing: Sequence[str], available: Sequence[str]) -> None:
        import difflib

        hints = []
        for col in missing:
            close = difflib.get_close_matches(col, [str(a) for a in available], n=1)
            if close:
                hints.append(f"{col!r} -> did you mean {close[0]!r}?")
        cols = ", ".join(repr(c) for c in missing)
        msg = (
            f"The prompt uses {_plural(len(missing), 'column')} the DataFrame does not have: "
            f"{cols}. Available columns: {', '.join(repr(str(a)) for a in available)}."
        )
        if hints:
            msg += " " + " ".join(hints)
        msg += " Fix: rename the placeholder, or write a literal brace as '{{' / '}}'."
        super().__init__(msg)
        self.columns = list(missing)


class MissingValuesError(BuildError):
    def __init__(self, columns: Sequence[str], rows: Sequence[Any]) -> None:
        columns = list(columns)
        where = (
            f"column {columns[0]!r}"
            if len(columns) == 1
            else "columns " + ", ".join(repr(c) for c in columns)
        )
        fill = (
            f"df[{columns[0]!r}].fillna('')"
            if len(columns) == 1
            else (f"df[{columns!r}] = df[{columns!r}].fillna('')")
        )
        msg = (
            f"{_plural(len(rows), 'row')} {'has' if len(rows) == 1 else 'have'} NaN/None in "
            f"{where} ({format_rows(rows)}). Fix: fill them ({fill}), or pass missing='skip' "
            f"to leave those rows out or missing='empty' to send an empty string."
        )
        super().__init__(msg, rows)
        self.columns = columns


class EmptyPromptError(BuildError):
    def __init__(self, rows: Sequence[Any]) -> None:
        msg = (
            f"{_plural(len(rows), 'row')} would send an empty prompt ({format_rows(rows)}). "
            f"Fix: drop or fill those rows, or pass missing='skip' if they are empty "
            f"because of NaN/None."
        )
        super().__init__(msg, rows)


class InvalidTextError(BuildError):
    def __init__(self, rows: Sequence[Any], detail: str) -> None:
        msg = f"{_plural(len(rows), 'row')} could not be encoded ({format_rows(rows)}): {detail}"
        super().__init__(msg, rows)


class LineTooLargeError(BuildError):
    def __init__(self, rows: Sequence[Any], limit: int, largest: int) -> None:
        msg = (
            f"{_plural(len(rows), 'row')} {'produces' if len(rows) == 1 else 'produce'} a "
            f"request line over the {limit:,}-byte limit "
            f"({format_rows(rows)}; largest {largest:,} bytes). Fix: shorten those texts "
            f"(e.g. df[col].str.slice(0, 100_000)) or drop the rows."
        )
        super().__init__(msg, rows)


class CustomIdError(BuildError):
    def __init__(self, rows: Sequence[Any], problem: str) -> None:
        msg = (
            f"{_plural(len(rows), 'row')} {'has' if len(rows) == 1 else 'have'} an unusable "
            f"custom id: {problem} ({format_rows(rows)}). Fix: use a column of unique ids of at "
            f"most 64 printable ASCII characters, or leave id_column=None to derive ids "
            f"from the index."
        )
        super().__init__(msg, rows)
