"""Prompt templates: ``"Review: {review}"`` with ``{{`` / ``}}`` for literal braces.

A template is parsed once into literal pieces and column names; rendering concatenates whole
columns (``Template.parts`` feeds the block assembler), never a per-row format call.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from dw_notebook.jsonl.requests.errors import BuildError


@dataclass(frozen=True)
class Template:
    source: str
    pieces: tuple[tuple[str, str], ...]  # ("text", literal) or ("column", name), in order

    @property
    def columns(self) -> tuple[str, ...]:
        """Distinct column names, in order of first use."""
        return tuple(dict.fromkeys(v for k, v in self.pieces if k == "column"))

    @property
    def literal_is_blank(self) -> bool:
        """True when the fixed text is only whitespace, so a prompt can render empty."""
        return all(v.strip() == "" for k, v in self.pieces if k == "text")


def parse_template(source: str) -> Template:
    """Parse a format-style template; only plain ``{column}`` fields are allowed."""
    if not isinstance(source, str):
        raise TypeError(f"prompt must be a str template or a callable, not {type(source).__name__}")
    try:
        parsed = list(string.Formatter().parse(source))
    except ValueError as exc:
        raise BuildError(
            f"The prompt template is not valid ({exc}). Fix: write a literal brace as '{{{{' "
            f"or '}}}}', and a column as '{{column}}'."
        ) from None
    pieces: list[tuple[str, str]] = []
    for literal, field, spec, conversion in parsed:
        if literal:
            pieces.append(("text", literal))
        if field is None:
            continue
        if field == "" or spec or conversion:
            shown = "{" + field + (f"!{conversion}" if conversion else "")
            shown += (f":{spec}" if spec else "") + "}"
            raise BuildError(
                f"The prompt template field {shown!r} is not supported: use a plain column name "
                f"like '{{review}}'. Fix: format the column first (df['x'] = df['x'].map("
                f"'{{:.2f}}'.format)), or write a literal brace as '{{{{'."
            )
        pieces.append(("column", field))
    return Template(source, tuple(pieces))
