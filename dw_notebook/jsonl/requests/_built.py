"""The result of a build: JSONL bytes plus everything the join and the job need to know."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from dw_notebook.markup import no_math
from dw_notebook.wire import MAX_FILE_BYTES, MAX_REQUESTS_PER_FILE

from ._preview import RequestPreview, escape, prompt_text


def fingerprint_digest(endpoint: str) -> Any:
    """The hash a build's fingerprint starts from; the request bytes follow."""
    return hashlib.sha256(endpoint.encode() + b"\n")


@dataclass(frozen=True)
class Chunk:
    """One file's worth of request lines (``start`` is the first request's number)."""

    parent: BuiltRequests = field(repr=False)
    start: int
    stop: int

    @property
    def n(self) -> int:
        return self.stop - self.start

    @property
    def data(self) -> bytes:
        return self.parent._slice(self.start, self.stop)

    @property
    def nbytes(self) -> int:
        offsets = self.parent.line_offsets
        return int(offsets[self.stop] - offsets[self.start])

    @property
    def custom_ids(self) -> list[str]:
        return self.parent.custom_ids[self.start : self.stop]


class BuiltRequests:
    """Request lines for one batch job (``data``), nothing sent yet.

    >>> built = build_requests(df, model="m", prompt="Classify: {review}")
    >>> built.n, built.endpoint
    (3, '/v1/chat/completions')
    >>> built.preview(1)[0]["body"]["messages"][0]["content"]
    'Classify: great phone'
    """

    def __init__(
        self,
        *,
        data: bytes,
        line_offsets: np.ndarray,
        endpoint: str,
        model: str,
        params: dict[str, Any],
        custom_ids: list[str],
        positions: np.ndarray,
        row_ids: list[str | None],
        schema: dict | None,
        skipped: list[Any],
        n_rows: int,
    ) -> None:
        self._data: bytes | None = data
        self._rebuild: Callable[[], bytes] | None = None
        self.line_offsets = line_offsets
        self.endpoint = endpoint
        self.model = model
        self.params = params
        self.custom_ids = custom_ids
        self.positions = positions
        self.row_ids = row_ids
        self.schema = schema
        self.skipped = skipped
        self.n_rows = n_rows
        self.other_ids: list[str | None] | None = None  # per row, set by other_ids=True
        self._fingerprint: str | None = None

    @property
    def n(self) -> int:
        return len(self.custom_ids)

    @property
    def nbytes(self) -> int:
        return int(self.line_offsets[-1])

    @property
    def data(self) -> bytes:
        """The JSONL bytes (made again by the ``rebuild`` given to ``release`` if released)."""
        if self._data is None:
            if self._rebuild is None:
                raise ValueError("these requests were released and cannot be rebuilt")
            self._data = self._rebuild()
        return self._data

    @property
    def holds_bytes(self) -> bool:
        return self._data is not None

    def release(self, rebuild: Callable[[], bytes]) -> None:
        """Drop the bytes; ``rebuild()`` gives them again when they are read."""
        self.fingerprint()
        self._rebuild = rebuild
        self._data = None

    def __len__(self) -> int:
        return self.n

    def fingerprint(self) -> str:
        """sha256 hex of the endpoint and the request bytes (what the server would receive)."""
        if self._fingerprint is None:
            digest = fingerprint_digest(self.endpoint)
            digest.update(self.data)
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def set_fingerprint(self, hexdigest: str) -> None:
        """The fingerprint, hashed by the build as it wrote the bytes."""
        self._fingerprint = hexdigest

    def _slice(self, start: int, stop: int) -> bytes:
        if start == 0 and stop == self.n:
            return self.data
        return self.data[int(self.line_offsets[start]) : int(self.line_offsets[stop])]

    def line(self, i: int) -> bytes:
        """Request line ``i`` (without its newline)."""
        return self.data[int(self.line_offsets[i]) : int(self.line_offsets[i + 1]) - 1]

    def chunks(
        self, max_requests: int = MAX_REQUESTS_PER_FILE, max_bytes: int = MAX_FILE_BYTES
    ) -> list[Chunk]:
        """Split into files of at most ``max_requests`` lines and ``max_bytes`` bytes each."""
        if max_requests < 1 or max_bytes < 1:
            raise ValueError("max_requests and max_bytes must be positive")
        out: list[Chunk] = []
        start, offsets = 0, self.line_offsets
        while start < self.n:
            # last line index whose end fits within max_bytes of this chunk's start
            limit = offsets[start] + max_bytes
            stop = int(np.searchsorted(offsets, limit, side="right")) - 1
            stop = min(stop, start + max_requests, self.n)
            if stop <= start:
                size = int(offsets[start + 1] - offsets[start])
                raise ValueError(
                    f"request {start} is {size:,} bytes, more than max_bytes={max_bytes:,}"
                )
            out.append(Chunk(self, start, stop))
            start = stop
        return out

    def prompt_text(self, i: int) -> str:
        """Request ``i`` as a reader would want to see it (messages with their roles)."""
        return prompt_text(orjson.loads(self.line(i))["body"])

    def preview(self, n: int = 3) -> RequestPreview:
        """The first ``n`` requests exactly as they will be sent: a list of request dicts that
        shows as a table in a notebook (the shared system prompt and schema once above it)."""
        requests = [orjson.loads(self.line(i)) for i in range(min(n, self.n))]
        return RequestPreview(requests, total=self.n, endpoint=self.endpoint, model=self.model)

    def _summary(self) -> str:
        size = _human_bytes(self.nbytes)
        text = f"{self.n:,} requests to {self.endpoint} · model {self.model} · {size}"
        if self.skipped:
            k = len(self.skipped)
            text += f" · {k:,} row{'' if k == 1 else 's'} skipped"
        files = len(self.chunks()) if self.n else 0
        if files > 1:
            text += f" · {files} files"
        return text

    def __repr__(self) -> str:
        return "\n".join([f"BuiltRequests({self._summary()})",
                          *(f"  {line}" for line in self.preview(2).lines())])  # fmt: skip

    def _repr_html_(self) -> str:
        return no_math(
            f"<div><div><strong>BuiltRequests</strong>: {escape(self._summary())}</div>"
            f"{self.preview(3)._repr_html_()}</div>"
        )


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"
