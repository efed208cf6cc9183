"""The request parameters: OpenAI field → Cohere v2 field, declared as tables.

Every field of the caller's body is in exactly one table: consumed elsewhere, renamed, renamed
as an integer, translated by a function, or refused with the reason. A field in none of them is
refused too, so a new API field can never be silently ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from waystation.errors import InvalidRequest
from waystation.providers.refusals import Refusals

Body = dict[str, Any]
Handler = Callable[[Body, Body, Refusals], None]

# Fields the adapter handles outside this table (or the gateway consumed).
CONSUMED = frozenset({"model", "messages", "stream", "stream_options"})

# Translated together, by `_tools_and_choice`.
TOOL_FIELDS = frozenset({"tools", "tool_choice"})

# OpenAI name → Cohere name, value unchanged.
RENAMED = {
    "temperature": "temperature",
    "top_p": "p",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
    "logprobs": "logprobs",
}

# OpenAI name → Cohere name, value must be a whole number (SDKs may send 40.0).
INTEGERS = {
    "top_k": "k",
    "seed": "seed",
    "max_tokens": "max_tokens",
    "max_completion_tokens": "max_tokens",  # wins over max_tokens: applied after it
}

# Fields Cohere v2 chat has no equivalent for, with the reason given to the caller.
REFUSED = {
    "logit_bias": "Cohere has no logit bias",
    "audio": "Cohere answers in text only",
    "modalities": "Cohere answers in text only",
    "reasoning_effort": "use 'thinking' ({type: enabled, budget_tokens}) instead",
    "verbosity": "Cohere has no verbosity control",
    "prediction": "Cohere has no predicted outputs",
    "web_search_options": "Cohere chat has no web search",
    "functions": "use 'tools' instead",
    "function_call": "use 'tool_choice' instead",
    "user": "Cohere takes no end-user identifier",
    "safety_identifier": "Cohere takes no end-user identifier",
    "store": "Cohere does not store completions",
    "service_tier": "Cohere has no service tiers",
    "prompt_cache_key": "Cohere has no prompt cache key",
    "cache_control": "Cohere has no prompt-cache hints",
}


def translate_params(body: Body, refusals: Refusals) -> Body:
    out: Body = {}
    for key, value in body.items():
        if key in CONSUMED or key in TOOL_FIELDS or key in INTEGERS or key in HANDLERS:
            continue
        if key in RENAMED:
            if value is not None:
                out[RENAMED[key]] = value
        else:
            refusals.refuse(key, REFUSED.get(key, "Cohere v2 chat has no equivalent"))
    for key, cohere_key in INTEGERS.items():
        if body.get(key) is not None:
            out[cohere_key] = _whole(body[key], key)
    for key, handler in HANDLERS.items():
        if key in body:
            handler(body, out, refusals)
    if not TOOL_FIELDS.isdisjoint(body):
        _tools_and_choice(body, out, refusals)
    return out


def _whole(value: Any, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise InvalidRequest(f"'{param}' must be a whole number for Cohere.", param=param)
    return int(value)


def _stop(body: Body, out: Body, refusals: Refusals) -> None:
    stop = body["stop"]
    if stop is not None:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)


def _n(body: Body, out: Body, refusals: Refusals) -> None:
    if body["n"] not in (None, 1):
        refusals.refuse("n", "Cohere returns one answer per request")


def _top_logprobs(body: Body, out: Body, refusals: Refusals) -> None:
    if body["top_logprobs"] not in (None, 0):
        refusals.refuse("top_logprobs", "Cohere returns the chosen tokens' log probabilities only")


def _parallel_tool_calls(body: Body, out: Body, refusals: Refusals) -> None:
    if body["parallel_tool_calls"] is False:
        refusals.refuse("parallel_tool_calls", "Cohere may always call several tools at once")


def _response_format(body: Body, out: Body, refusals: Refusals) -> None:
    fmt = body["response_format"]
    if fmt is None:
        return
    kind = fmt.get("type")
    if kind == "text":
        out["response_format"] = {"type": "text"}
    elif kind == "json_object":
        out["response_format"] = {"type": "json_object"}
    elif kind == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema")
        out["response_format"] = {"type": "json_object"}
        if schema is not None:
            out["response_format"]["json_schema"] = schema


def _thinking(body: Body, out: Body, refusals: Refusals) -> None:
    thinking = body["thinking"]
    if thinking is None:
        return
    if thinking.get("type") == "disabled":
        out["thinking"] = {"type": "disabled"}
        return
    out["thinking"] = {"type": "enabled"}  # `adaptive`: the model picks its own budget
    if thinking.get("budget_tokens") is not None:
        out["thinking"]["token_budget"] = _whole(thinking["budget_tokens"], "thinking")
    if thinking.get("thinking_level") is not None:
        refusals.refuse("thinking.thinking_level", "Cohere takes a token budget, not a level")


def _tools_and_choice(body: Body, out: Body, refusals: Refusals) -> None:
    """Tools go in the OpenAI function shape; `tool_choice` becomes REQUIRED / NONE.

    Cohere has no named tool choice, but "call this function" is exactly "offer only this
    function and require a call", so that is what a named choice becomes.
    """
    tools = body.get("tools")
    choice = body.get("tool_choice")
    if choice in ("required", "none") and not tools:
        raise InvalidRequest(f"tool_choice '{choice}' needs 'tools'.", param="tool_choice")
    if isinstance(choice, dict):
        name = choice["function"]["name"]
        tools = [t for t in tools or () if t["function"]["name"] == name]
        if not tools:
            raise InvalidRequest(
                f"tool_choice names the function '{name}', which is not in 'tools'.",
                param="tool_choice",
            )
        choice = "required"
    if tools:
        out["tools"] = [_tool(t) for t in tools]
        if any(t["function"].get("strict") for t in tools):
            out["strict_tools"] = True
    if choice in ("required", "none"):
        out["tool_choice"] = choice.upper()


def _tool(tool: dict[str, Any]) -> dict[str, Any]:
    fn = tool["function"]
    function: dict[str, Any] = {
        "name": fn["name"],
        "parameters": fn.get("parameters") or {"type": "object", "properties": {}},
    }
    if fn.get("description") is not None:
        function["description"] = fn["description"]
    return {"type": "function", "function": function}


HANDLERS: dict[str, Handler] = {
    "stop": _stop,
    "n": _n,
    "top_logprobs": _top_logprobs,
    "parallel_tool_calls": _parallel_tool_calls,
    "response_format": _response_format,
    "thinking": _thinking,
}
