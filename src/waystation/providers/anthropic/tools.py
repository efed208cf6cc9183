"""Tools, `tool_choice`, `parallel_tool_calls` and `response_format`.

Structured output: models with native structured output get `output_config.format`
(`json_schema`), whose answer is plain text. Other models, and `json_object` (which has no
native form: Anthropic's format always needs a schema), get one forced tool, `JSON_TOOL`,
whose input is the answer: decoding turns that tool call back into the message content with
finish reason `stop`. The forced tool cannot be combined with the caller's own tools or with
thinking (Anthropic refuses forced tool use while thinking), so those combinations are
refused with a 400 that says why.
"""

from __future__ import annotations

from typing import Any

from waystation.providers.anthropic.policy import ParamPolicy
from waystation.providers.anthropic.profiles import ModelProfile

# The forced tool that carries a JSON answer; reserved, so a tool call of this name in an
# answer is always the answer itself.
JSON_TOOL = "json_answer_for_response_format"
_JSON_TOOL_TEXT = "Give the final answer by calling this tool; its input is the answer."

_CHOICES: dict[str, dict[str, str]] = {
    "auto": {"type": "auto"},
    "required": {"type": "any"},
    "none": {"type": "none"},
}


def apply_tools(body: dict[str, Any], wire: dict[str, Any], policy: ParamPolicy) -> None:
    tools = body.get("tools")
    if tools:
        wire["tools"] = [_tool(t, f"tools[{i}]", policy) for i, t in enumerate(tools)]
    choice = _tool_choice(body.get("tool_choice"))
    if body.get("parallel_tool_calls") is False and tools:
        choice = choice or {"type": "auto"}
        if choice["type"] != "none":
            choice["disable_parallel_tool_use"] = True
    if choice is not None and (tools or choice["type"] != "none"):
        wire["tool_choice"] = choice


def _tool(tool: dict[str, Any], path: str, policy: ParamPolicy) -> dict[str, Any]:
    fn = tool["function"]
    if fn["name"] == JSON_TOOL:
        raise policy.invalid(f"{path}.function.name", f"the tool name '{JSON_TOOL}' is reserved")
    out: dict[str, Any] = {"name": fn["name"]}
    if fn.get("description") is not None:
        out["description"] = fn["description"]
    out["input_schema"] = fn.get("parameters") or {"type": "object", "properties": {}}
    if fn.get("strict"):
        out["strict"] = True
    if tool.get("cache_control") is not None:
        out["cache_control"] = tool["cache_control"]
    return out


def _tool_choice(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return dict(_CHOICES[value])
    return {"type": "tool", "name": value["function"]["name"]}


def apply_response_format(
    body: dict[str, Any],
    wire: dict[str, Any],
    profile: ModelProfile,
    policy: ParamPolicy,
    *,
    thinking: bool,
) -> None:
    fmt = body.get("response_format")
    if fmt is None or fmt["type"] == "text":
        return
    spec = fmt.get("json_schema") or {}
    schema = spec.get("schema")
    if fmt["type"] == "json_schema" and schema is not None and profile.native_json:
        wire.setdefault("output_config", {})["format"] = {"type": "json_schema", "schema": schema}
        return
    if fmt["type"] == "json_object":
        why = "json_object is served through a forced tool call"
    else:
        why = "this model has no native structured output, so JSON comes through a forced tool"
    _force_json_tool(body, wire, spec, policy, why=why, thinking=thinking)


def _force_json_tool(
    body: dict[str, Any],
    wire: dict[str, Any],
    spec: dict[str, Any],
    policy: ParamPolicy,
    *,
    why: str,
    thinking: bool,
) -> None:
    if body.get("tools"):
        raise policy.invalid("response_format", f"{why}, which cannot be combined with tools")
    if body.get("tool_choice") not in (None, "none", "auto"):
        raise policy.invalid("response_format", f"{why}, which overrides tool_choice")
    if thinking:
        raise policy.invalid(
            "response_format", f"{why}, which Anthropic does not allow with thinking on"
        )
    schema = spec.get("schema") or {"type": "object"}
    if schema.get("type", "object") != "object":
        raise policy.invalid(
            "response_format.json_schema.schema",
            f"{why}, so the schema's root must be an object",
        )
    description = spec.get("description") or _JSON_TOOL_TEXT
    wire["tools"] = [{"name": JSON_TOOL, "description": description, "input_schema": schema}]
    wire["tool_choice"] = {"type": "tool", "name": JSON_TOOL}
