"""The request parameters: OpenAI fields → Converse `inferenceConfig`, `toolConfig` and
`additionalModelRequestFields`, declared as tables.

Every field of the caller's body is in exactly one place: consumed elsewhere, an
`inferenceConfig` field, a model-specific field (Anthropic-on-Bedrock shapes), translated by a
function, or refused with the reason. A field in none of them is refused too.

Structured output has no Converse field that every model takes, so `response_format` becomes
a forced tool whose input schema is the caller's schema (the approach Anthropic documents);
the answer's call of that tool comes back as the JSON content (see `response.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from waystation.errors import InvalidRequest
from waystation.providers.bedrock.messages import cache_point
from waystation.providers.refusals import Refusals

Body = dict[str, Any]
Request = dict[str, Any]
Block = dict[str, Any]

# The forced tool that carries structured output; callers cannot name a tool like this.
JSON_TOOL = "structured_output"

CONSUMED = frozenset({"model", "messages", "stream", "stream_options", "cache_control"})
TOOL_FIELDS = frozenset({"tools", "tool_choice", "response_format", "parallel_tool_calls"})

# OpenAI field → inferenceConfig field (max_completion_tokens wins: applied after max_tokens).
INFERENCE = {
    "max_tokens": "maxTokens",
    "max_completion_tokens": "maxTokens",
    "temperature": "temperature",
    "top_p": "topP",
}

REFUSED = {
    "frequency_penalty": "Converse has no frequency penalty",
    "presence_penalty": "Converse has no presence penalty",
    "seed": "Converse has no seed",
    "logit_bias": "Converse has no logit bias",
    "audio": "Converse answers in text only",
    "modalities": "Converse answers in text only",
    "reasoning_effort": "use 'thinking' ({type: enabled, budget_tokens}) instead",
    "verbosity": "Converse has no verbosity control",
    "prediction": "Converse has no predicted outputs",
    "web_search_options": "Converse has no web search",
    "functions": "use 'tools' instead",
    "function_call": "use 'tool_choice' instead",
    "user": "Converse takes no end-user identifier",
    "safety_identifier": "Converse takes no end-user identifier",
    "store": "Converse does not store completions",
    "service_tier": "Converse's service tiers are not mapped",
    "prompt_cache_key": "Converse has no prompt cache key (use cache_control)",
}

Handler = Callable[[Body, Request, Refusals], None]


def translate_params(body: Body, request: Request, refusals: Refusals) -> None:
    """Add the parameters of `body` to the Converse `request` (messages are already there)."""
    for key in body:
        if key in CONSUMED or key in TOOL_FIELDS or key in INFERENCE or key in HANDLERS:
            continue
        refusals.refuse(key, REFUSED.get(key, "Converse has no equivalent"))
    config = {INFERENCE[k]: body[k] for k in INFERENCE if body.get(k) is not None}
    for key, handler in HANDLERS.items():
        if key in body:
            handler(body, request, refusals)
    if config:
        request.setdefault("inferenceConfig", {}).update(config)
    tool_config(body, request, refusals)
    if body.get("cache_control") and request.get("messages"):
        last = request["messages"][-1]["content"]
        if "cachePoint" not in last[-1]:
            last.append(cache_point(body["cache_control"]))


def _stop(body: Body, request: Request, refusals: Refusals) -> None:
    stop = body["stop"]
    if stop is not None:
        stops = [stop] if isinstance(stop, str) else list(stop)
        request.setdefault("inferenceConfig", {})["stopSequences"] = stops


def _n(body: Body, request: Request, refusals: Refusals) -> None:
    if body["n"] not in (None, 1):
        refusals.refuse("n", "Converse returns one answer per request")


def _logprobs(body: Body, request: Request, refusals: Refusals) -> None:
    if body.get("logprobs"):
        refusals.refuse("logprobs", "Converse returns no log probabilities")


def _top_logprobs(body: Body, request: Request, refusals: Refusals) -> None:
    if body["top_logprobs"] not in (None, 0):
        refusals.refuse("top_logprobs", "Converse returns no log probabilities")


def _top_k(body: Body, request: Request, refusals: Refusals) -> None:
    value = body["top_k"]
    if value is None:
        return
    if value != int(value):
        raise InvalidRequest("'top_k' must be a whole number for Bedrock.", param="top_k")
    request.setdefault("additionalModelRequestFields", {})["top_k"] = int(value)


def _thinking(body: Body, request: Request, refusals: Refusals) -> None:
    thinking = body["thinking"]
    if thinking is None:
        return
    shape: dict[str, Any] = {"type": thinking["type"]}
    if thinking.get("budget_tokens") is not None:
        shape["budget_tokens"] = int(thinking["budget_tokens"])
    if thinking.get("thinking_level") is not None:
        refusals.refuse("thinking.thinking_level", "Bedrock takes a token budget, not a level")
    request.setdefault("additionalModelRequestFields", {})["thinking"] = shape


HANDLERS: dict[str, Handler] = {
    "stop": _stop,
    "n": _n,
    "logprobs": _logprobs,
    "top_logprobs": _top_logprobs,
    "top_k": _top_k,
    "thinking": _thinking,
}


def tool_config(body: Body, request: Request, refusals: Refusals) -> None:
    """tools + tool_choice (+ structured output as a forced tool) → `toolConfig`."""
    if body.get("parallel_tool_calls") is False:
        refusals.refuse("parallel_tool_calls", "Converse cannot turn parallel tool calls off")
    tools = body.get("tools") or []
    if any(t["function"]["name"] == JSON_TOOL for t in tools):
        raise InvalidRequest(f"The tool name '{JSON_TOOL}' is reserved for structured output "
                             "on Bedrock; rename the tool.", param="tools")
    specs: list[Block] = []
    for tool in tools:
        specs.append(_tool_spec(tool))
        if tool.get("cache_control"):
            specs.append(cache_point(tool["cache_control"]))
    forced = _json_tool(body, bool(tools), refusals)
    if forced is not None:
        request["toolConfig"] = {"tools": [forced], "toolChoice": {"tool": {"name": JSON_TOOL}}}
        return
    choice_in = body.get("tool_choice")
    if not specs:
        if choice_in not in (None, "auto", "none"):
            raise InvalidRequest("tool_choice needs 'tools'.", param="tool_choice")
        return
    if isinstance(choice_in, dict) and choice_in["function"]["name"] not in {
        t["function"]["name"] for t in tools
    }:
        raise InvalidRequest(f"tool_choice names the function '{choice_in['function']['name']}',"
                             " which is not in 'tools'.", param="tool_choice")
    choice = _tool_choice(choice_in, request, refusals)
    if choice == "omit":
        return
    request["toolConfig"] = {"tools": specs}
    if choice is not None:
        request["toolConfig"]["toolChoice"] = choice


def _tool_spec(tool: dict[str, Any]) -> Block:
    fn = tool["function"]
    spec: dict[str, Any] = {
        "name": fn["name"],
        "inputSchema": {"json": fn.get("parameters") or {"type": "object", "properties": {}}},
    }
    if fn.get("description"):
        spec["description"] = fn["description"]
    if fn.get("strict"):
        spec["strict"] = True
    return {"toolSpec": spec}


def _tool_choice(choice: Any, request: Request, refusals: Refusals) -> Any:
    """Converse has auto, any and a named tool; `none` is expressed by offering no tools."""
    if choice is None:
        return None
    if choice == "auto":
        return {"auto": {}}
    if choice == "required":
        return {"any": {}}
    if choice == "none":
        if _has_tool_blocks(request.get("messages") or ()):
            refusals.refuse("tool_choice", "'none' is expressed by offering no tools, but "
                            "Converse needs the tools when the conversation holds tool calls")
            return None
        return "omit"
    return {"tool": {"name": choice["function"]["name"]}}


def _has_tool_blocks(turns: Any) -> bool:
    return any("toolUse" in b or "toolResult" in b for t in turns for b in t["content"])


def _json_tool(body: Body, has_tools: bool, refusals: Refusals) -> Block | None:
    fmt = body.get("response_format")
    if fmt is None or fmt.get("type") == "text":
        return None
    if has_tools:
        refusals.refuse("response_format", "structured output is a forced tool on Bedrock, "
                        "which cannot be combined with your own tools")
        return None
    if (body.get("thinking") or {}).get("type") in ("enabled", "adaptive"):
        refusals.refuse("response_format", "structured output is a forced tool on Bedrock, "
                        "which models cannot use while thinking")
        return None
    spec = fmt.get("json_schema") or {}
    schema = spec.get("schema") or {"type": "object"}
    if fmt.get("type") == "json_object":
        schema = {"type": "object"}
    if schema.get("type", "object") != "object":
        raise InvalidRequest("response_format: on Bedrock the JSON schema's top level must be an "
                             "object (structured output is a tool's input).",
                             param="response_format")
    description = spec.get("description") or "Give the answer as this JSON object."
    tool: dict[str, Any] = {"name": JSON_TOOL, "description": description,
                            "inputSchema": {"json": schema}}
    if spec.get("strict"):
        tool["strict"] = True
    return {"toolSpec": tool}
