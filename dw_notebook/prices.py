"""Model prices as data: USD per 1M tokens, per completion window.

The table ships in ``dw_notebook/data/prices.json`` (Doubleword's published prices). Refresh it
without a release by pointing ``DW_NOTEBOOK_PRICES`` at another JSON file of the same shape, or by
passing ``prices=`` (a mapping ``model -> {window: (input, output)}``) where prices are used.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

ENV_VAR = "DW_NOTEBOOK_PRICES"


@dataclass(frozen=True)
class Price:
    """USD per 1M tokens."""

    input: float
    output: float

    def __str__(self) -> str:
        return f"${self.input:g}/M in, ${self.output:g}/M out"


PriceTable = dict[str, dict[str, Price]]
PricesArg = Mapping[str, Mapping[str, Any]] | None


def _parse(raw: Mapping[str, Any]) -> PriceTable:
    models = raw.get("models", raw)
    table: PriceTable = {}
    for model, windows in models.items():
        table[model] = {}
        for window, value in windows.items():
            if isinstance(value, Price):
                table[model][window] = value
            elif isinstance(value, Mapping):
                table[model][window] = Price(float(value["input"]), float(value.get("output", 0)))
            else:
                inp, out = (list(value) + [0.0])[:2]
                table[model][window] = Price(float(inp), float(out))
    return table


@lru_cache(maxsize=4)
def _load(path: str | None) -> PriceTable:
    if path:
        text = Path(path).read_text(encoding="utf-8")
    else:
        text = resources.files("dw_notebook").joinpath("data/prices.json").read_text("utf-8")
    return _parse(json.loads(text))


def load_prices(path: str | os.PathLike | None = None) -> PriceTable:
    """The price table from ``path``, else ``$DW_NOTEBOOK_PRICES``, else the bundled file."""
    chosen = path or os.environ.get(ENV_VAR) or None
    return _load(str(chosen) if chosen else None)


def price_for(model: str, window: str = "24h", prices: PricesArg = None) -> Price | None:
    """Price of ``model`` for ``window``; ``None`` when unknown (e.g. the local "mock" model)."""
    table = _parse(prices) if prices is not None else load_prices()
    return table.get(model, {}).get(window)
