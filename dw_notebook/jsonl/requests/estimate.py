"""What a build would cost, before anything is sent.

Tokens are estimated the way Doubleword's own estimate does: input ≈ request bytes ÷ 4; output
≈ input × 1.2, capped per request by ``max_tokens`` / ``max_completion_tokens`` when given
(embeddings produce no output tokens). Prices come from ``dw_notebook.prices``. Only completed
requests are charged, so this is what a fully successful batch would cost. Prefer the service's
own estimate when it offers one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dw_notebook import wire
from dw_notebook.jsonl.requests._built import BuiltRequests
from dw_notebook.prices import Price, PricesArg, price_for

NO_OUTPUT = (wire.EMBEDDINGS, wire.MODERATIONS)  # endpoints that generate no tokens

BYTES_PER_TOKEN = 4
OUTPUT_RATIO = 1.2


@dataclass(frozen=True)
class CostEstimate:
    model: str
    window: str
    n_requests: int
    input_tokens: int
    output_tokens: int
    output_capped: bool  # True when max_tokens bounds the output estimate
    price: Price | None  # None: no known price for this model and window

    @property
    def input_usd(self) -> float | None:
        return None if self.price is None else self.input_tokens * self.price.input / 1e6

    @property
    def output_usd(self) -> float | None:
        return None if self.price is None else self.output_tokens * self.price.output / 1e6

    @property
    def usd(self) -> float | None:
        """Estimated total in USD, or ``None`` when the model has no known price."""
        if self.price is None:
            return None
        return self.input_usd + self.output_usd  # type: ignore[operator]

    def _tokens(self) -> str:
        cap = " (capped by max_tokens)" if self.output_capped else ""
        return (
            f"{self.n_requests:,} requests, ~{_short(self.input_tokens)} input + "
            f"~{_short(self.output_tokens)} output tokens{cap}"
        )

    def __str__(self) -> str:
        if self.price is None:
            return (
                f"cost unknown: no price for model {self.model!r} in the {self.window} window "
                f"(a local/simulated model, or not in the price table); {self._tokens()}"
            )
        return f"≈ ${self.usd:,.4f} ({self.model}, {self.window} window): {self._tokens()}"

    def __repr__(self) -> str:
        return f"CostEstimate({self})"

    def _repr_html_(self) -> str:
        import html

        return f"<span>{html.escape(str(self))}</span>"


def _max_output(params: dict) -> int | None:
    for key in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        value = params.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


def _short(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def estimate_cost(
    built: BuiltRequests, window: str = "24h", prices: PricesArg = None
) -> CostEstimate:
    """Estimated cost of running every request in ``built`` (see module docstring).

    >>> estimate_cost(built).usd          # None for models without a price, e.g. "mock"
    """
    if window not in wire.COMPLETION_WINDOWS:
        raise ValueError(f"window must be one of {sorted(wire.COMPLETION_WINDOWS)}, not {window!r}")
    line_bytes = np.diff(built.line_offsets) - 1  # without the newline
    per_input = line_bytes // BYTES_PER_TOKEN
    input_tokens = int(per_input.sum())
    cap = _max_output(built.params)
    if built.endpoint in NO_OUTPUT:
        output_tokens = 0
    else:
        per_output = np.floor(per_input * OUTPUT_RATIO).astype(np.int64)
        if cap is not None:
            per_output = np.minimum(per_output, cap)
        output_tokens = int(per_output.sum())
    return CostEstimate(
        model=built.model,
        window=window,
        n_requests=built.n,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        output_capped=cap is not None and built.endpoint not in NO_OUTPUT,
        price=price_for(built.model, window, prices),
    )
