"""Each pilot row's own text: a system prompt every row shares and the common start of the
rest are shown once above the rows, so each row shows what differs (its templated values)."""

from __future__ import annotations

from typing import Any

from ..jsonl.requests._preview import prompt_text, system_text

SHARED_MIN = 12  # characters of a common start worth showing once instead of in every row


def own_texts(bodies: list[dict[str, Any]]) -> tuple[list[str], str]:
    """Each request's own text and the text they all start with ('' if none): a system
    prompt every row shares and the common start of the rest (cut at a word) are shown once,
    so each row shows what differs (its templated values)."""
    systems = {system_text(b) for b in bodies}
    skip = len(bodies) > 1 and len(systems) == 1 and systems != {""}
    texts = [_own(b, skip) for b in bodies]
    shared = f"[system] {systems.pop()}" if skip else ""
    start = _common_start(texts) if len(texts) > 1 else ""
    if len(start) >= SHARED_MIN:
        texts = ["…" + t[len(start) :] for t in texts]
        shared = f"{shared}\n{start}" if shared else start
    return texts, shared


def _own(body: dict[str, Any], skip_system: bool) -> str:
    text = prompt_text(body, skip_system=skip_system)
    messages = body.get("messages")
    if skip_system and isinstance(messages, list) and len(messages) == 2:
        return text.removeprefix("[user] ")  # one user message: its text alone
    return text


def _common_start(texts: list[str]) -> str:
    """The start all ``texts`` share, up to its last space (never a whole text)."""
    first, n = min(texts, key=len), 0
    while n < len(first) and all(t[n] == first[n] for t in texts):
        n += 1
    n = min(n, len(first) - 1)  # never a whole text
    return first[: first.rfind(" ", 0, n) + 1]
