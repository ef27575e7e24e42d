"""What a build would cost, before anything is sent.

Input tokens are counted the way the service bills them: the prompt of each request (its
messages as sent, about 4 bytes a token, plus a few template tokens per message, which the JSON
punctuation of each message stands for) and the tool definitions, once per request. The request
wrapper (``custom_id``, ``method``, ``url``, ``model``, parameters) is not prompt, and neither is
a ``response_format`` schema on servers that do guided decoding (see the API notes, "Cost");
``schema_in_prompt=True`` counts the schema too, for a service that puts it in the prompt.
Output ≈ input × 1.2, capped per request by ``max_tokens`` / ``max_completion_tokens`` when
given (embeddings produce no output tokens). Prices come from ``dw_notebook.prices``. Only
completed requests are charged, so this is what a fully successful batch would cost. Prefer
the service's own estimate, or a pilot's measured usage, when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import orjson

from dw_notebook import wire
from dw_notebook.jsonl.requests._built import BuiltRequests
from dw_notebook.markup import escape, no_math
from dw_notebook.prices import Price, PricesArg, price_for

NO_OUTPUT = (wire.EMBEDDINGS, wire.MODERATIONS)  # endpoints that generate no tokens

BYTES_PER_TOKEN = 4
OUTPUT_RATIO = 1.2
#: The body fields holding the prompt, per endpoint (what the model reads).
PROMPT_FIELDS = {
    wire.CHAT: ("messages",),
    wire.COMPLETIONS: ("prompt",),
    wire.EMBEDDINGS: ("input",),
    wire.RESPONSES: ("input", "instructions"),
    wire.MESSAGES: ("messages", "system"),
}


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
        if self.price is None and self.model in wire.SIMULATED_MODELS:
            return (
                f"cost n/a: {self.model!r} is the local server's simulated model; {self._tokens()}"
            )
        if self.price is None:
            return (
                f"cost unknown: no price for model {self.model!r} in the {self.window} window "
                f"(not in the price table); {self._tokens()}"
            )
        return f"≈ ${self.usd:,.4f} ({self.model}, {self.window} window): {self._tokens()}"

    def __repr__(self) -> str:
        return f"CostEstimate({self})"

    def _repr_html_(self) -> str:
        return no_math(f"<span>{escape(self)}</span>")


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


def _body(line: bytes) -> dict:
    return orjson.loads(line).get("body") or {}


def _extra_bytes(body: dict, schema_in_prompt: bool) -> int:
    """Bytes billed once per request besides the prompt: tools (and the schema, if asked)."""
    extra = len(orjson.dumps(body["tools"])) if body.get("tools") else 0
    fmt = body.get("response_format") or body.get("text", {}).get("format")
    if schema_in_prompt and isinstance(fmt, dict):
        extra += len(orjson.dumps(fmt))
    return extra


def prompt_bytes(built: BuiltRequests, schema_in_prompt: bool = False) -> np.ndarray:
    """Bytes of what each request bills as input (prompt, tools; see the module docstring).

    Every line of a build has the same wrapper but for its ``custom_id`` and prompt, so the
    wrapper is measured once and taken off each line's length (no line is parsed twice); a build
    whose lines differ otherwise is measured line by line.
    """
    line_bytes = (np.diff(built.line_offsets) - 1).astype(np.int64)  # without the newline
    if built.n == 0:
        return line_bytes
    fields = PROMPT_FIELDS.get(built.endpoint, ("messages", "input", "prompt"))
    # custom_ids are printable ASCII (see ``make_custom_ids``): one byte per character
    id_bytes = np.fromiter(map(len, built.custom_ids), np.int64, built.n)

    def measured(i: int) -> tuple[int, int]:
        body = _body(built.line(i))
        prompt = sum(len(orjson.dumps(body[f])) for f in fields if f in body)
        return prompt, _extra_bytes(body, schema_in_prompt)

    first, extra = measured(0)
    wrapper = int(line_bytes[0]) - first - int(id_bytes[0])
    last, last_extra = measured(built.n - 1)
    if int(line_bytes[-1]) - last - int(id_bytes[-1]) == wrapper and last_extra == extra:
        return line_bytes - id_bytes - wrapper + extra
    sizes = [sum(measured(i)) for i in range(built.n)]
    return np.asarray(sizes, dtype=np.int64)


def estimate_cost(
    built: BuiltRequests,
    window: str = "24h",
    prices: PricesArg = None,
    *,
    schema_in_prompt: bool = False,
) -> CostEstimate:
    """Estimated cost of running every request in ``built`` (see module docstring).

    >>> estimate_cost(built).usd          # None for models without a price, e.g. "mock"
    """
    if window not in wire.COMPLETION_WINDOWS:
        raise ValueError(f"window must be one of {sorted(wire.COMPLETION_WINDOWS)}, not {window!r}")
    sizes = prompt_bytes(built, schema_in_prompt)
    per_input = np.maximum(-(-sizes // BYTES_PER_TOKEN), 1)
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
