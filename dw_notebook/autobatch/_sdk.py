"""The ``openai`` SDK, which autobatch answers with, as an optional dependency: importing
dw_notebook never needs it; creating an autobatch client or collecting its answers does."""

from __future__ import annotations

from types import ModuleType

INSTALL_HINT = (
    "dw.autobatch answers with the openai SDK's own types; install them with "
    "pip install 'dw-notebook[autobatch]'"
)


def openai_sdk() -> ModuleType:
    """The ``openai`` module, or an ImportError that names the extra to install."""
    try:
        import openai
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return openai
