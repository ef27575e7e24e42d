"""Notebook widgets (anywidget front ends in ``js/``) and the text renderings they share.

Widgets only read plain data (job snapshots, lists of dicts) and report user actions through
callbacks, so they can be wired to any job API and tested without a server.
"""

from __future__ import annotations

from typing import Any

from ..progress.text import format_progress, format_summary
from .static import snapshot_html

__all__ = [
    "BuilderWidget",
    "JobsWidget",
    "ProgressWidget",
    "ReviewWidget",
    "format_progress",
    "format_summary",
    "snapshot_html",
]

_LAZY = {
    "BuilderWidget": ".builder",
    "JobsWidget": ".jobs",
    "ProgressWidget": ".progress",
    "ReviewWidget": ".review",
}


def __getattr__(name: str) -> Any:
    # widget classes import anywidget/ipywidgets: only load them when asked for
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
