"""Support code for the local server tests: input lines, polling, and a raw HTTP client."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import orjson

from dw_notebook.server import LocalServer

TERMINAL = {"completed", "failed", "expired", "cancelled"}
CHAT = "/v1/chat/completions"


def chat_line(i: int, text: str | None = None, model: str = "mock", **body: object) -> dict:
    """One chat request line of an input file."""
    content = text if text is not None else f"Review {i}: it was fine, I suppose."
    return {
        "custom_id": f"row-{i}",
        "method": "POST",
        "url": CHAT,
        "body": {"model": model, "messages": [{"role": "user", "content": content}], **body},
    }


def jsonl(lines: list) -> bytes:
    return b"".join(
        (line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n" for line in lines
    )


def wait_until(check: Callable[[], object], timeout: float = 15.0, what: str = "") -> object:
    """Poll ``check`` until it returns something truthy (the runner works on its own thread)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.01)


class Api:
    """Raw HTTP calls against one server (for what the SDK hides: headers, status codes)."""

    def __init__(self, srv: LocalServer) -> None:
        self.srv = srv
        self.http = httpx.Client(
            base_url=srv.base_url, headers={"Authorization": f"Bearer {srv.token}"}, timeout=30
        )

    def upload(self, lines: list, filename: str = "input.jsonl") -> httpx.Response:
        return self.http.post(
            "/files", files={"file": (filename, jsonl(lines))}, data={"purpose": "batch"}
        )

    def create(self, file_id: str, endpoint: str = CHAT, window: str = "24h", **extra) -> dict:
        resp = self.http.post(
            "/batches",
            json={
                "input_file_id": file_id,
                "endpoint": endpoint,
                "completion_window": window,
                **extra,
            },
        )
        assert resp.status_code in (200, 201), resp.text
        return resp.json()

    def submit(self, lines: list, **extra) -> dict:
        up = self.upload(lines)
        assert up.status_code in (200, 201), up.text
        return self.create(up.json()["id"], **extra)

    def batch(self, batch_id: str) -> dict:
        resp = self.http.get(f"/batches/{batch_id}")
        assert resp.status_code == 200, resp.text
        return resp.json()

    def wait(self, batch_id: str, statuses: set[str] = TERMINAL, timeout: float = 15.0) -> dict:
        return wait_until(
            lambda: (b := self.batch(batch_id))["status"] in statuses and b,
            timeout,
            f"batch {batch_id} to reach {statuses}",
        )

    def lines(self, file_id: str | None, **params) -> list[dict]:
        if not file_id:
            return []
        resp = self.http.get(f"/files/{file_id}/content", params=params)
        assert resp.status_code == 200, resp.text
        return [orjson.loads(x) for x in resp.content.splitlines() if x.strip()]

    def close(self) -> None:
        self.http.close()
