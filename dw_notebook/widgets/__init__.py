"""Notebook widgets (anywidget front ends in ``js/``) and the text renderings they share.

Widgets only read plain data (job snapshots, lists of dicts) and report user actions through
callbacks, so they can be wired to any job API and tested without a server.
"""

from __future__ import annotations

from .text import format_progress, format_summary, snapshot_html

__all__ = ["format_progress", "format_summary", "snapshot_html"]
