"""Doubleword model prices (USD per 1M tokens, April 2026) and the cost estimate rule.

Kept as data so it can be refreshed; the mock model is free.
"""

from __future__ import annotations

from decimal import Decimal

from dw_notebook import wire

# model: {window: (input price, output price)}
PRICES: dict[str, dict[str, tuple[str, str]]] = {
    "Qwen/Qwen3-14B-FP8": {"1h": ("0.03", "0.30"), "24h": ("0.02", "0.20")},
    "Qwen/Qwen3.5-4B": {"1h": ("0.05", "0.08"), "24h": ("0.04", "0.06")},
    "Qwen/Qwen3.5-9B": {"1h": ("0.04", "0.35"), "24h": ("0.03", "0.29")},
    "Qwen/Qwen3.5-35B-A3B-FP8": {"1h": ("0.07", "0.30"), "24h": ("0.05", "0.20")},
    "Qwen/Qwen3-VL-30B-A3B-Instruct-FP8": {"1h": ("0.07", "0.30"), "24h": ("0.05", "0.20")},
    "Qwen/Qwen3-VL-235B-A22B-Instruct-FP8": {"1h": ("0.15", "0.55"), "24h": ("0.10", "0.40")},
    "Qwen/Qwen3.5-397B-A17B": {"1h": ("0.30", "1.80"), "24h": ("0.15", "1.20")},
    "nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-NVFP4": {
        "1h": ("0.23", "0.56"),
        "24h": ("0.15", "0.38"),
    },
    "openai/gpt-oss-20b": {"1h": ("0.03", "0.20"), "24h": ("0.02", "0.15")},
    "Qwen/Qwen3-Embedding-8B": {"1h": ("0.03", "0"), "24h": ("0.02", "0")},
}

LOCAL_MODELS = wire.SIMULATED_MODELS
MODEL_IDS = (*LOCAL_MODELS, *PRICES)

_MILLION = Decimal(1_000_000)


def is_embedding(model: str) -> bool:
    """An embedding model (the estimate counts one output token per request for those)."""
    return "embedding" in model.lower()


def cost(model: str, window: str, tokens_in: int, tokens_out: int) -> Decimal:
    """Price of the tokens in USD (zero for unknown and local models)."""
    price = PRICES.get(model, {}).get(window)
    if price is None:
        return Decimal(0)
    return (Decimal(price[0]) * tokens_in + Decimal(price[1]) * tokens_out) / _MILLION


def pico_cost(model: str, window: str, tokens_in: int, tokens_out: int) -> int:
    """Price of the tokens in pico-USD (1e-12), an integer so sums stay exact."""
    price = PRICES.get(model, {}).get(window)
    if price is None:
        return 0
    return int((Decimal(price[0]) * tokens_in + Decimal(price[1]) * tokens_out) * _MILLION)
