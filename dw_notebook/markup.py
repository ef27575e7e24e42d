"""HTML for notebook outputs: escaped text, kept away from MathJax.

JupyterLab, Notebook 7 and nbconvert's HTML typeset ``$…$`` in HTML outputs as LaTeX. They read
the text after the page has parsed it, so an entity (``&#36;``) does not stop them; only an
element of the class they are told to skip does (MathJax 3's ``mathjax_ignore`` in Lab and
Notebook 7, MathJax 2's ``tex2jax_ignore`` in nbconvert's template)."""

from __future__ import annotations

import html

NO_MATH_OPEN = '<div class="tex2jax_ignore mathjax_ignore">'


def escape(text: object) -> str:
    """HTML-escaped text (``$`` as an entity too, for renderers that read the source)."""
    return html.escape(str(text)).replace("$", "&#36;")


def no_math(fragment: str) -> str:
    """``fragment`` inside an element that MathJax skips; every HTML output goes through it."""
    if fragment.startswith(NO_MATH_OPEN):
        return fragment
    return f"{NO_MATH_OPEN}{fragment}</div>"
