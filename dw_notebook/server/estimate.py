"""Doubleword ``GET /files/{id}/cost-estimate``: tokens and price of an input file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import orjson

from dw_notebook.server import prices


def _max_tokens(body: dict) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if isinstance(value, int) and value > 0:
            return value
    return None


def estimate_file(path: Path, file_id: str, window: str) -> dict:
    """Per-model estimate of ``path``; costs are decimal strings."""
    per_model: dict[str, list] = {}
    with open(path, "rb") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            try:
                body = orjson.loads(raw).get("body") or {}
            except (orjson.JSONDecodeError, AttributeError):
                continue
            model = str(body.get("model", ""))
            t_in, t_out = prices.estimate_tokens(len(orjson.dumps(body)), _max_tokens(body))
            row = per_model.setdefault(model, [0, 0, 0])
            row[0] += 1
            row[1] += t_in
            row[2] += t_out
    models, total = [], Decimal(0)
    for model, (n, t_in, t_out) in per_model.items():
        c = prices.cost(model, window, t_in, t_out)
        total += c
        models.append(
            {
                "model": model,
                "request_count": n,
                "estimated_input_tokens": t_in,
                "estimated_output_tokens": t_out,
                "estimated_cost": f"{c:.6f}",
            }
        )
    return {
        "file_id": file_id,
        "completion_window": window,
        "total_requests": sum(m["request_count"] for m in models),
        "total_estimated_input_tokens": sum(m["estimated_input_tokens"] for m in models),
        "total_estimated_output_tokens": sum(m["estimated_output_tokens"] for m in models),
        "total_estimated_cost": f"{total:.6f}",
        "models": models,
    }
