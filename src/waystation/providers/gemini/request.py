"""The caller's OpenAI-format body → a Gemini `generateContent` request body and endpoint."""

from __future__ import annotations

from typing import Any

from waystation.providers.gemini.contents import build_contents
from waystation.providers.gemini.params import accepted_fields, generation_config
from waystation.providers.gemini.thinking import uses_levels
from waystation.providers.gemini.tools import function_declarations, tool_config

API_VERSION = "v1beta"


def endpoint(base_url: str, model: str, stream: bool) -> str:
    """`{base}/v1beta/models/{model}:generateContent`, or the SSE stream method.

    A model given as `tunedModels/x` (or `models/x`) keeps its own collection.
    """
    name = model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"
    if stream:
        return f"{base_url}/{API_VERSION}/{name}:streamGenerateContent?alt=sse"
    return f"{base_url}/{API_VERSION}/{name}:generateContent"


def encode_request(
    body: dict[str, Any], *, model: str, provider: str, drop: bool
) -> dict[str, Any]:
    fields = accepted_fields(body, provider, drop)
    system, contents = build_contents(
        fields["messages"], provider=provider, drop=drop, sign_unsigned_calls=uses_levels(model)
    )
    out: dict[str, Any] = {"contents": contents}
    if system is not None:
        out["systemInstruction"] = system
    tools = fields.get("tools") or []
    if tools:
        out["tools"] = [{"functionDeclarations": function_declarations(tools, provider)}]
    config = tool_config(fields.get("tool_choice"), tools)
    if config is not None:
        out["toolConfig"] = config
    generation = generation_config(fields, model=model, provider=provider, drop=drop)
    if generation:
        out["generationConfig"] = generation
    return out
