"""DataFrame -> batch request lines (JSONL bytes), validated before anything is sent."""

from dw_notebook.build._builder import ENDPOINTS, build_requests
from dw_notebook.build._built import BuiltRequests, Chunk
from dw_notebook.build._ids import make_custom_ids
from dw_notebook.build.errors import (
    BuildError,
    CustomIdError,
    EmptyPromptError,
    InvalidTextError,
    LineTooLargeError,
    MissingColumnsError,
    MissingValuesError,
)

__all__ = [
    "ENDPOINTS",
    "BuildError",
    "BuiltRequests",
    "Chunk",
    "CustomIdError",
    "EmptyPromptError",
    "InvalidTextError",
    "LineTooLargeError",
    "MissingColumnsError",
    "MissingValuesError",
    "build_requests",
    "make_custom_ids",
]
