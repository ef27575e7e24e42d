"""Where the bundled widget JavaScript and CSS live, with a clear stand-in when not built.

``dw_notebook/static/`` is build output (``npm run build``). anywidget reads ``_esm`` when a
class is defined, so a missing bundle would make ``import dw_notebook`` fail in a source
checkout without npm. Instead the widget gets a small module that says how to build it.
"""

from __future__ import annotations

import json
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "static"

_MISSING_ESM = """\
export default {
  render({ el }) {
    const note = document.createElement("pre");
    note.textContent = %s;
    note.style.color = "var(--jp-error-color1, #d32f2f)";
    el.append(note);
  },
};
"""


def missing_message(name: str) -> str:
    """What the user sees when the bundle of widget ``name`` was not built."""
    return (
        f"dw-notebook: the {name} widget's JavaScript (static/{name}.js) is missing. "
        "In a source checkout run `npm install && npm run build`, then restart the kernel; "
        "installed wheels include it."
    )


def esm(name: str) -> Path | str:
    """The bundle of widget ``name`` as a path, or a stand-in module that explains the gap."""
    path = STATIC / f"{name}.js"
    if path.is_file():
        return path
    return _MISSING_ESM % json.dumps(missing_message(name))


def css(name: str) -> Path | str:
    """The stylesheet of widget ``name`` as a path, or no styles when not built."""
    path = STATIC / f"{name}.css"
    return path if path.is_file() else ""
