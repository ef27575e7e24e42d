"""Responses API <-> Chat Completions, so one chat backend answers both.

Doubleword's control layer does the same at its edge: a ``/v1/responses`` request is turned into
a chat request for the model, and the chat answer back into a Response object.

>>> chat = to_chat({"model": "m", "instructions": "Be brief.", "input": "hi",
...                  "max_output_tokens": 5})
>>> chat["messages"], chat["max_tokens"]
([{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'hi'}], 5)
"""

from __future__ import annotations

import time
from typing import Any

# Responses fields that mean the same in a chat request.
_SAME = ("temperature", "top_p", "stop", "seed", "user", "metadata", "parallel_tool_calls",
         "frequency_penalty", "presence_penalty", "logit_bias", "top_logprobs")  # fmt: skip
_TEXT_PARTS = ("input_text", "output_text", "text")


def _content(parts: Any) -> Any:
    """Responses message content (a string or typed parts) as chat content."""
    if not isinstance(parts, list):
        return parts
    out: list[dict] = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind in _TEXT_PARTS:
            out.append({"type": "text", "text": part.get("text", "")})
        elif kind == "input_image":
            url = part.get("image_url") or part.get("file_id") or ""
            out.append({"type": "image_url", "image_url": {"url": url}})
    if all(p["type"] == "text" for p in out):
        return "".join(p["text"] for p in out)
    return out


def _messages(items: Any) -> list[dict]:
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    messages: list[dict] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type", "message")
        if kind == "message" or "role" in item:
            role = "system" if item.get("role") == "developer" else item.get("role", "user")
            messages.append({"role": role, "content": _content(item.get("content", ""))})
        elif kind == "function_call":
            call = {"id": item.get("call_id", ""), "type": "function",
                    "function": {"name": item.get("name", ""),
                                 "arguments": item.get("arguments", "")}}  # fmt: skip
            if messages and messages[-1]["role"] == "assistant" and "tool_calls" in messages[-1]:
                messages[-1]["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            messages.append({"role": "tool", "tool_call_id": item.get("call_id", ""),
                             "content": str(item.get("output", ""))})  # fmt: skip
    return messages


def _response_format(text: Any) -> dict | None:
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        return {"type": "json_schema", "json_schema": schema}
    if fmt.get("type") == "json_object":
        return {"type": "json_object"}
    return None


def _tools(tools: Any) -> list[dict]:
    out = []
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, dict) and tool.get("type") == "function":
            fn = {k: tool[k] for k in ("name", "description", "parameters", "strict") if k in tool}
            out.append({"type": "function", "function": fn})
    return out


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "function", "function": {"name": choice.get("name", "")}}
    return choice


def to_chat(body: dict) -> dict:
    """The chat request a Responses request stands for."""
    messages = []
    if isinstance(body.get("instructions"), str):
        messages.append({"role": "system", "content": body["instructions"]})
    messages.extend(_messages(body.get("input", "")))
    chat: dict[str, Any] = {"model": body.get("model"), "messages": messages}
    chat.update({k: body[k] for k in _SAME if body.get(k) is not None})
    if isinstance(body.get("max_output_tokens"), int):
        chat["max_tokens"] = body["max_output_tokens"]
    if (fmt := _response_format(body.get("text"))) is not None:
        chat["response_format"] = fmt
    if tools := _tools(body.get("tools")):
        chat["tools"] = tools
        if body.get("tool_choice") is not None:
            chat["tool_choice"] = _tool_choice(body["tool_choice"])
    return chat


def _output(message: dict, finish: str | None, rid: str) -> list[dict]:
    status = "incomplete" if finish == "length" else "completed"
    items: list[dict] = []
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if content:
        items.append({"type": "message", "id": f"msg_{rid}", "status": status,
                      "role": "assistant",
                      "content": [{"type": "output_text", "text": content,
                                   "annotations": [], "logprobs": []}]})  # fmt: skip
    for n, call in enumerate(message.get("tool_calls") or []):
        fn = call.get("function") or {}
        items.append({"type": "function_call", "id": f"fc_{rid}_{n}", "status": status,
                      "call_id": call.get("id", ""), "name": fn.get("name", ""),
                      "arguments": fn.get("arguments", "")})  # fmt: skip
    return items


def response_usage(usage: Any) -> dict | None:
    """Chat ``usage`` as Responses ``usage`` (with the detail objects clients read)."""
    if not isinstance(usage, dict):
        return None
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens", 0)
    return {
        "input_tokens": usage.get("prompt_tokens", 0),
        "output_tokens": usage.get("completion_tokens", 0),
        "total_tokens": usage.get("total_tokens", 0),
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens_details": {"reasoning_tokens": reasoning},
    }


# finish_reason -> Response status, as the control layer's translation maps them
_STATUS = {"stop": "completed", "length": "incomplete", "tool_calls": "requires_action",
           "content_filter": "failed"}  # fmt: skip


def from_chat(reply: dict, body: dict, rid: str, created_at: int | None = None) -> dict:
    """The Response object for a chat ``reply`` to the Responses request ``body``."""
    choices = reply.get("choices") or []
    first = choices[0] if choices and isinstance(choices[0], dict) else {}
    finish = first.get("finish_reason")
    output = [i for c in choices for i in _output(c.get("message") or {}, finish, rid)]
    status = _STATUS.get(finish, "completed") if choices else "failed"
    created = int(time.time()) if created_at is None else created_at
    return {
        "id": f"resp_{rid}",
        "object": "response",
        "created_at": created,
        "completed_at": created if status == "completed" else None,
        "status": status,
        "incomplete_details": {"reason": "max_output_tokens"} if finish == "length" else None,
        "error": None,
        "model": body.get("model"),
        "instructions": body.get("instructions"),
        "output": output,
        "tools": body.get("tools") or [],
        "tool_choice": body.get("tool_choice", "auto"),
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "text": body.get("text") or {"format": {"type": "text"}},
        "temperature": body.get("temperature", 1.0),
        "top_p": body.get("top_p", 1.0),
        "max_output_tokens": body.get("max_output_tokens"),
        "previous_response_id": body.get("previous_response_id"),
        "metadata": body.get("metadata"),
        "store": body.get("store", False),
        "background": False,
        "service_tier": reply.get("service_tier") or "default",
        "usage": response_usage(reply.get("usage")),
    }
