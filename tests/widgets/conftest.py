"""Fixtures for widget tests: a recording comm instead of a kernel, a recording display, a
movable clock."""

from __future__ import annotations

from typing import Any

import comm
import pytest
from comm.base_comm import BaseComm
from IPython.core.interactiveshell import InteractiveShell


class RecordingComm(BaseComm):
    """A comm that keeps every message the widget publishes (what the page would receive)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.published: list[dict[str, Any]] = []
        super().__init__(*args, **kwargs)

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys) -> None:
        self.published.append({"msg_type": msg_type, "data": data or {}, "buffers": buffers or []})

    def updates(self, key: str) -> list[Any]:
        """Values of ``key`` in every state update sent after the comm was opened."""
        return [
            m["data"]["state"][key]
            for m in self.published
            if m["msg_type"] == "comm_msg"
            and m["data"].get("method") == "update"
            and key in m["data"].get("state", {})
        ]

    def customs(self) -> list[tuple[Any, list]]:
        """Custom messages (``widget.send``) with their buffers."""
        return [
            (m["data"]["content"], m["buffers"])
            for m in self.published
            if m["msg_type"] == "comm_msg" and m["data"].get("method") == "custom"
        ]


def browser_message(widget: Any, content: Any, buffers: list[bytes] | None = None) -> None:
    """Deliver a custom message as the page's ``model.send(content)`` would."""
    widget.comm.handle_msg(
        {
            "content": {
                "comm_id": widget.comm.comm_id,
                "data": {"method": "custom", "content": content},
            },
            "buffers": buffers or [],
        }
    )


@pytest.fixture(autouse=True)
def recording_comms(monkeypatch: pytest.MonkeyPatch) -> list[RecordingComm]:
    """Every widget created in a test gets a RecordingComm (comm.create_comm is replaceable)."""
    made: list[RecordingComm] = []

    def create_comm(*args: Any, **kwargs: Any) -> RecordingComm:
        c = RecordingComm(*args, **kwargs)
        made.append(c)
        return c

    monkeypatch.setattr(comm, "create_comm", create_comm)
    return made


class FakeClock:
    """A monotonic clock tests move by hand, and a scheduler that runs timers when due."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.timers: list[tuple[float, Any]] = []

    def __call__(self) -> float:
        return self.now

    def schedule(self, delay: float, fn: Any) -> None:
        self.timers.append((self.now + delay, fn))

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [t for t in self.timers if t[0] <= self.now]
        self.timers = [t for t in self.timers if t[0] > self.now]
        for _, fn in due:
            fn()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class RecordingPublisher:
    """Stands for IPython's display publisher: keeps every output and display-id update."""

    def __init__(self) -> None:
        self.published: list[dict] = []

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kw):
        self.published.append({"data": data, "transient": transient or {}, "update": update})


@pytest.fixture
def shell(monkeypatch):
    """An IPython shell whose displays are recorded; yields the recording publisher."""
    shell = InteractiveShell.instance()
    publisher = RecordingPublisher()
    monkeypatch.setattr(shell, "display_pub", publisher)
    yield publisher
    InteractiveShell.clear_instance()
