"""Body options each endpoint knows, so a misspelt one (``max_token=``) is caught with the
closest known name instead of being sent as is. Unknown names still go into the body (a server
may accept extras, e.g. vLLM's ``top_k``), after a warning."""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterable

from dw_notebook import wire

_COMMON = {"user", "metadata", "service_tier", "store", "seed", "temperature", "top_p"}
_SAMPLING = {
    "frequency_penalty", "presence_penalty", "logit_bias", "logprobs", "top_logprobs", "n",
    "stop", "max_tokens", "max_completion_tokens", "stream_options",
    # common extras of OpenAI-compatible servers (vLLM, SGLang, llama.cpp)
    "top_k", "min_p", "repetition_penalty", "min_tokens", "ignore_eos", "skip_special_tokens",
    "guided_json", "guided_choice", "guided_regex", "guided_grammar", "chat_template_kwargs",
    "extra_body",
}  # fmt: skip
KNOWN: dict[str, set[str]] = {
    wire.CHAT: _COMMON | _SAMPLING | {
        "tool_choice", "parallel_tool_calls", "reasoning_effort", "modalities", "prediction",
        "audio", "web_search_options", "verbosity", "functions", "function_call",
        "prompt_cache_key", "safety_identifier",
    },
    "/v1/completions": _COMMON | _SAMPLING | {"echo", "best_of", "suffix"},
    "/v1/embeddings": {"user", "dimensions", "encoding_format", "truncate_prompt_tokens"},
    "/v1/responses": _COMMON | {
        "instructions", "max_output_tokens", "reasoning", "text", "tool_choice",
        "parallel_tool_calls", "previous_response_id", "truncation", "include",
        "max_tool_calls", "prompt_cache_key", "safety_identifier", "top_logprobs",
    },
}  # fmt: skip


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name ``name`` most likely meant, if any is close."""
    found = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
    return found[0] if found else None


def warn_unknown(url: str, params: Iterable[str]) -> None:
    """Warn about body options the endpoint does not know, naming the closest known one."""
    known = KNOWN.get(url)
    if known is None:
        return
    for name in params:
        if name in known:
            continue
        guess = closest(name, known)
        hint = f"did you mean {guess}=? " if guess else ""
        warnings.warn(
            f"{name}= is not a known option of {url}; it is sent in the body as is. {hint}"
            "(Servers may accept extras; check its name if this one is a typo.)",
            UserWarning,
            stacklevel=4,
        )
