"""A chat-completions body → the JSON body of `POST /v1/messages`.

Parameters are declared as data: what is renamed, what is refused (with the values that are
no-ops and so may pass), and what the other modules own. A key that is in none of these
tables is refused too, so a field added to the API later cannot be silently ignored here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from waystation.providers.anthropic.messages import convert_messages
from waystation.providers.anthropic.policy import ParamPolicy
from waystation.providers.anthropic.profiles import ModelProfile
from waystation.providers.anthropic.reasoning import apply_reasoning
from waystation.providers.anthropic.tools import apply_response_format, apply_tools


def _never(_: Any) -> bool:
    return False


# Parameters Anthropic has no equivalent for → the values that change nothing and may pass.
REFUSED: dict[str, Callable[[Any], bool]] = {
    "n": lambda v: v == 1,
    "logprobs": lambda v: v is False,
    "top_logprobs": _never,
    "frequency_penalty": lambda v: v == 0,
    "presence_penalty": lambda v: v == 0,
    "seed": _never,
    "logit_bias": lambda v: not v,
    "audio": _never,
    "modalities": lambda v: all(m == "text" for m in v),
    "prediction": _never,
    "web_search_options": _never,
    "verbosity": _never,
    "prompt_cache_key": _never,
    "store": lambda v: v is False,
    "functions": _never,
    "function_call": _never,
}

# OpenAI's service tiers → Anthropic's (`auto` may use priority capacity; `standard_only`).
SERVICE_TIERS = {"auto": "auto", "default": "standard_only", "standard_only": "standard_only"}

# Keys translated by the functions below or by the server itself (stream, stream_options).
HANDLED = frozenset({
    "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens",
    "temperature", "top_p", "top_k", "stop", "user", "safety_identifier", "tools",
    "tool_choice", "parallel_tool_calls", "response_format", "thinking", "reasoning_effort",
    "cache_control", "service_tier",
})


def build_body(
    body: dict[str, Any], model: str, profile: ModelProfile, policy: ParamPolicy, *, stream: bool
) -> dict[str, Any]:
    system, turns = convert_messages(body["messages"], policy)
    if not turns:
        raise policy.invalid("messages", "at least one user or assistant message is needed")
    wire: dict[str, Any] = {"model": model, "max_tokens": 0}
    if system:
        wire["system"] = system
    wire["messages"] = turns
    _refuse_unknown(body, policy)
    _sampling(body, wire, policy)
    apply_tools(body, wire, policy)
    thinking = apply_reasoning(body, wire, profile, policy)
    apply_response_format(body, wire, profile, policy, thinking=thinking)
    _request_options(body, wire, policy)
    if stream:
        wire["stream"] = True
    return wire


def _refuse_unknown(body: dict[str, Any], policy: ParamPolicy) -> None:
    for key, value in body.items():
        if value is None or key in HANDLED:
            continue
        ok = REFUSED.get(key, _never)
        if not ok(value):
            policy.unsupported(key)


def _sampling(body: dict[str, Any], wire: dict[str, Any], policy: ParamPolicy) -> None:
    temperature = body.get("temperature")
    if temperature is not None:
        if temperature > 1:
            policy.unsupported("temperature", "Claude takes a temperature from 0 to 1")
        else:
            wire["temperature"] = temperature
    if body.get("top_p") is not None:
        wire["top_p"] = body["top_p"]
    top_k = body.get("top_k")
    if top_k is not None:
        if top_k != int(top_k):
            raise policy.invalid("top_k", "top_k must be a whole number")
        wire["top_k"] = int(top_k)
    stop = body.get("stop")
    if isinstance(stop, str):
        wire["stop_sequences"] = [stop]
    elif stop:
        wire["stop_sequences"] = list(stop)


def _request_options(body: dict[str, Any], wire: dict[str, Any], policy: ParamPolicy) -> None:
    user = body.get("safety_identifier") or body.get("user")
    if user:
        wire["metadata"] = {"user_id": user}
    if body.get("cache_control") is not None:
        wire["cache_control"] = body["cache_control"]
    tier = body.get("service_tier")
    if tier is not None:
        if tier in SERVICE_TIERS:
            wire["service_tier"] = SERVICE_TIERS[tier]
        else:
            policy.unsupported("service_tier", "Claude takes 'auto' or 'default'")
