"""Doubleword ``GET /files/{id}/cost-estimate``, as the control layer computes it
(``dwctl/src/api/handlers/files.rs``, ``get_file_cost_estimate``)."""

from __future__ import annotations

import threading
from collections import deque
from decimal import Decimal
from pathlib import Path

import orjson

from dw_notebook.server import prices

HISTORY = 100  # recent 200 answers per model whose completion tokens are averaged


class RecentOutputs:
    """Completion tokens of each model's last ``HISTORY`` 200 answers (all batches)."""

    def __init__(self) -> None:
        self._seen: dict[str, deque[int]] = {}
        self._lock = threading.Lock()

    def add(self, model: str, completion_tokens: int) -> None:
        with self._lock:
            self._seen.setdefault(model, deque(maxlen=HISTORY)).append(completion_tokens)

    def average(self, model: str) -> int | None:
        """``AVG(...)::BIGINT``: the mean rounded half away from zero; None without history."""
        with self._lock:
            seen = list(self._seen.get(model, ()))
        if not seen:
            return None
        return int((Decimal(sum(seen)) / len(seen)).quantize(Decimal(1), "ROUND_HALF_UP"))


def _text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return "0" if Decimal(text) == 0 else text


def estimate_file(path: Path, file_id: str, window: str, recent: RecentOutputs) -> dict:
    """Per model: input = body bytes / 4 (of the whole model's bodies), output = the model's
    recent average × requests, or input × 1.1 without history (one per request for an
    embedding model); ``max_tokens`` is not read; ``"0"`` without a tariff."""
    per_model: dict[str, list[int]] = {}  # model: [requests, body bytes]
    with open(path, "rb") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            try:
                body = orjson.loads(raw).get("body") or {}
            except (orjson.JSONDecodeError, AttributeError):
                continue
            row = per_model.setdefault(str(body.get("model", "")), [0, 0])
            row[0] += 1
            row[1] += len(orjson.dumps(body))
    models, total = [], Decimal(0)
    for model, (n, body_bytes) in per_model.items():
        tokens_in = body_bytes // 4
        average = recent.average(model)
        if prices.is_embedding(model):
            tokens_out = n
        elif average is not None:
            tokens_out = average * n
        else:
            tokens_out = int(tokens_in * 1.1)
        cost = prices.cost(model, window, tokens_in, tokens_out)
        total += cost
        models.append(
            {
                "model": model,
                "request_count": n,
                "estimated_input_tokens": tokens_in,
                "estimated_output_tokens": tokens_out,
                "estimated_cost": _text(cost),
            }
        )
    return {
        "file_id": file_id,
        "total_requests": sum(m["request_count"] for m in models),
        "total_estimated_input_tokens": sum(m["estimated_input_tokens"] for m in models),
        "total_estimated_output_tokens": sum(m["estimated_output_tokens"] for m in models),
        "total_estimated_cost": _text(total),
        "models": models,
    }
