"""Streams a multipart upload straight to disk, enforcing the size limit while it arrives.

The limit counts the whole request body (file, other form fields and multipart framing, with
``FORM_OVERHEAD`` allowed on top of the file), and a body that stops arriving for
``idle_timeout`` seconds is refused with 408, so a slow client cannot hold a worker forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from dw_notebook.server.files import open_private


class BodyTimeout(Exception):
    """A request body stopped arriving for ``seconds`` (raised from ``receive``)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"The request body stalled for {seconds:g} s; send it again.")
        self.seconds = seconds


class UploadError(Exception):
    """The upload cannot be accepted; ``status`` is 400 or 413."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Parts:
    """Callbacks for python-multipart: the ``file`` part goes to disk, small fields to memory."""

    def __init__(self, dest: Path, limit: int) -> None:
        self.dest, self.limit = dest, limit
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.size = 0
        self._fh = None
        self._name = ""
        self._field, self._value = b"", b""
        self._headers: dict[bytes, bytes] = {}
        self._buf = bytearray()

    def on_part_begin(self) -> None:
        self._headers, self._name, self._buf = {}, "", bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def on_headers_finished(self) -> None:
        _, opts = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = opts.get(b"name", b"").decode("latin-1")
        if self._name == "file":
            raw = opts.get(b"filename")
            self.filename = raw.decode("utf-8", "replace") if raw is not None else "upload.jsonl"
            self._fh = open_private(self.dest)  # closed in on_part_end / close

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._name == "file" and self._fh is not None:
            self.size += end - start
            if self.size > self.limit:
                raise UploadError(413, f"File is larger than the limit of {self.limit} bytes.")
            self._fh.write(data[start:end])
        elif len(self._buf) < 65536:
            self._buf += data[start:end]

    def on_part_end(self) -> None:
        if self._name == "file":
            self.close()
        elif self._name:
            self.fields[self._name] = self._buf.decode("utf-8", "replace")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


async def _drain(request: Request, limit: int) -> None:
    """Read (and drop) the rest of a refused body so the client sees our answer, within reason."""
    seen = 0
    try:
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > 2 * limit + 1024 * 1024:
                break
    except Exception:
        pass


#: Bytes a form may carry beyond the file itself (purpose field, part headers, boundaries).
FORM_OVERHEAD = 64 * 1024

#: Seconds a body may stall between two chunks before the upload is refused.
IDLE_TIMEOUT = 60.0


async def _chunks(request: Request, limit: int, idle_timeout: float) -> AsyncIterator[bytes]:
    """The body's chunks; UploadError when the whole body passes ``limit`` or stalls."""
    stream = request.stream().__aiter__()
    seen = 0
    while True:
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), idle_timeout)
        except StopAsyncIteration:
            return
        except (TimeoutError, BodyTimeout):
            raise UploadError(
                408, f"The upload stalled for {idle_timeout:g} s; send it again."
            ) from None
        seen += len(chunk)
        if seen > limit:
            raise UploadError(413, f"The request body is larger than the limit of {limit} bytes.")
        yield chunk


async def receive_upload(
    request: Request, dest: Path, limit: int, idle_timeout: float = IDLE_TIMEOUT
) -> tuple[str, dict[str, str], int]:
    """Write the ``file`` part to ``dest``; returns (filename, other fields, bytes).

    Raises UploadError (removing ``dest``) on a bad form, when the file passes ``limit``, when
    the whole body passes ``limit + FORM_OVERHEAD``, or when it stalls for ``idle_timeout`` s.
    """
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + FORM_OVERHEAD:
        await _drain(request, limit)
        raise UploadError(413, f"File is larger than the limit of {limit} bytes.")
    ctype, opts = parse_options_header(request.headers.get("content-type", ""))
    boundary = opts.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise UploadError(400, "Expected a multipart/form-data body with a 'file' part.")
    parts = _Parts(dest, limit)
    callbacks = {
        name: getattr(parts, name)
        for name in (
            "on_part_begin",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
            "on_part_data",
            "on_part_end",
        )
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in _chunks(request, limit + FORM_OVERHEAD, idle_timeout):
            parser.write(chunk)
        parser.finalize()
    except UploadError as exc:
        parts.close()
        dest.unlink(missing_ok=True)
        if exc.status != 408:
            await _drain(request, limit)
        raise
    except Exception as exc:
        parts.close()
        dest.unlink(missing_ok=True)
        raise UploadError(400, f"Malformed multipart body: {exc}") from exc
    parts.close()
    if parts.filename is None:
        dest.unlink(missing_ok=True)
        raise UploadError(400, "Missing the 'file' part.")
    return parts.filename, parts.fields, parts.size
