"""Prompt templates: ``"Review: {review}"`` with ``{{`` / ``}}`` for literal braces.

A template is parsed once into literal text and column names; rendering is one C-level
``str.format`` per row over whole columns, never a per-row dict lookup.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from dw_notebook.build.errors import BuildError


@dataclass(frozen=True)
class Template:
    source: str
    columns: tuple[str, ...]  # distinct columns, in order of first use
    positional: str  # the template with "{0}", "{1}"... in place of column names

    def render(self, texts: dict[str, list[str]]) -> list[str]:
        """Render every row; ``texts[col]`` is the text of each row for each used column."""
        if not self.columns:
            n = len(next(iter(texts.values()))) if texts else 0
            return [self.positional.format()] * n
        if self.positional == "{0}":
            return texts[self.columns[0]]
        return list(map(self.positional.format, *(texts[c] for c in self.columns)))


def parse_template(source: str) -> Template:
    """Parse a format-style template; only plain ``{column}`` fields are allowed."""
    if not isinstance(source, str):
        raise TypeError(f"prompt must be a str template or a callable, not {type(source).__name__}")
    columns: list[str] = []
    pieces: list[str] = []
    try:
        parsed = list(string.Formatter().parse(source))
    except ValueError as exc:
        raise BuildError(
            f"The prompt template is not valid ({exc}). Fix: write a literal brace as '{{{{' "
            f"or '}}}}', and a column as '{{column}}'."
        ) from None
    for literal, field, spec, conversion in parsed:
        pieces.append(literal.replace("{", "{{").replace("}", "}}"))
        if field is None:
            continue
        if field == "" or spec or conversion:
            shown = "{" + field + ("!" + conversion if conversion else "") + (
                ":" + spec if spec else "") + "}"
            raise BuildError(
                f"The prompt template field {shown!r} is not supported: use a plain column name "
                f"like '{{review}}'. Fix: format the column first (df['x'] = df['x'].map("
                f"'{{:.2f}}'.format)), or write a literal brace as '{{{{'."
            )
        if field not in columns:
            columns.append(field)
        pieces.append("{" + str(columns.index(field)) + "}")
    return Template(source, tuple(columns), "".join(pieces))
