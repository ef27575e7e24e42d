"""A griffe extension: doctest lines in docstrings become fenced ``pycon`` code blocks.

The package's docstrings show examples as bare ``>>>`` lines, which Markdown would otherwise read
as nested block quotes.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_DIRECTIVE = re.compile(r"doctest:\s*[+-]\w+\s*")  # "# doctest: +SKIP  (note)" -> "# (note)"


def fence_doctests(text: str) -> str:
    """Wrap each run of ``>>>`` / ``...`` lines (and the output lines right after them)."""
    out: list[str] = []
    inside = False
    for line in text.splitlines():
        prompt = line.lstrip().startswith((">>>", "..."))
        if prompt and not inside:
            out += ["```pycon"]
            inside = True
        elif inside and not prompt and not line.strip():
            out += ["```"]
            inside = False
        out.append(_DIRECTIVE.sub("", line.strip()).rstrip(" #") if inside else line)
    if inside:
        out.append("```")
    return "\n".join(out)


class DoctestBlocks(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
