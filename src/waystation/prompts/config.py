"""A stored prompt's config from what callers send, checked as a chat request would be.

Two spellings arrive: the newer `prompt: {messages, model?, temperature?, max_tokens?, …}`
(parameters under their OpenAI names, as in a chat request) and the deprecated
`prompt_config: {messages, model?, model_parameters: {temperature, maxTokens, topP, …}}` (orq's
camelCase names, mapped here to the OpenAI ones). Both become one `PromptConfig`.

Every config is validated with the chat request's own models and cross-field rules before it
is stored, so a stored prompt can never make a later request fail validation on its own. Only
what a chat request may set per call is storable: the gateway's routing fields (`retry`,
`fallbacks`, `cache`, …) and `stream`/`stream_options` belong to a request, and a stored prompt
holding them is refused rather than silently ignored. A parameter given as `null` means "no
default" and is not stored.
"""

from __future__ import annotations

from typing import Any

from waystation.api.chat_request import ChatCompletionRequest
from waystation.api.validate import GATEWAY_FIELDS, validate_resolved
from waystation.errors import InvalidRequest
from waystation.store.prompts import PromptConfig

REQUEST_ONLY = frozenset({"stream", "stream_options"})
PARAMETERS = frozenset(ChatCompletionRequest.model_fields) - GATEWAY_FIELDS - REQUEST_ONLY - {
    "messages", "model"}

# orq's deprecated `model_parameters` names → the OpenAI names requests use
LEGACY_NAMES = {
    "temperature": "temperature",
    "maxTokens": "max_tokens",
    "topK": "top_k",
    "topP": "top_p",
    "frequencyPenalty": "frequency_penalty",
    "presencePenalty": "presence_penalty",
    "seed": "seed",
    "responseFormat": "response_format",
    "reasoningEffort": "reasoning_effort",
    "verbosity": "verbosity",
    "cacheControl": "cache_control",
}
OPENAI_NAMES = {v: k for k, v in LEGACY_NAMES.items()}
_THINKING = ("budgetTokens", "thinkingLevel")


def from_prompt(prompt: dict[str, Any]) -> PromptConfig:
    """The newer `prompt` object: messages, model and parameters side by side."""
    if "messages" not in prompt:
        raise InvalidRequest("Missing required parameter: prompt.messages",
                             param="prompt.messages")
    return checked(_split(prompt), "prompt")


def from_legacy(config: dict[str, Any]) -> PromptConfig:
    """The deprecated `prompt_config` object."""
    if "messages" not in config:
        raise InvalidRequest("Missing required parameter: prompt_config.messages",
                             param="prompt_config.messages")
    parameters = openai_parameters(config.get("model_parameters") or {})
    draft = PromptConfig(config["messages"], _model(config), parameters)
    return checked(draft, "prompt_config")


def patched(current: PromptConfig, prompt: dict[str, Any] | None,
            legacy: dict[str, Any] | None) -> PromptConfig:
    """`current` with a PATCH applied as a JSON merge patch on the flat config: `messages`
    and `model` replace, each parameter given replaces that one, and `null` removes it."""
    if prompt is not None:
        patch, where = prompt, "prompt"
    elif legacy is not None:
        patch, where = _flat(legacy), "prompt_config"
    else:
        return current
    given = _split(patch, keep_nulls=True)
    parameters = {**current.parameters, **given.parameters}
    draft = PromptConfig(
        messages=given.messages if "messages" in patch else current.messages,
        model=given.model if "model" in patch else current.model,
        parameters={k: v for k, v in parameters.items() if v is not None},
    )
    return checked(draft, where)


def checked(config: PromptConfig, where: str) -> PromptConfig:
    """`config` once it passes the chat request's validation, with int-valued floats
    (`"max_tokens": 100.0`, as SDKs send them) stored as ints."""
    if not config.messages:
        raise InvalidRequest(f"{where}.messages must hold at least one message.",
                             param=f"{where}.messages")
    data: dict[str, Any] = {**config.parameters, "messages": config.messages}
    if config.model is not None:
        data["model"] = config.model
    try:
        req = validate_resolved(data)
    except InvalidRequest as error:
        raise _located(error, where) from None
    parameters = dict(config.parameters)
    for name, value in parameters.items():
        typed = getattr(req, name, None)
        if isinstance(value, float) and isinstance(typed, int) and not isinstance(typed, bool):
            parameters[name] = typed
    return PromptConfig(config.messages, config.model, parameters)


def openai_parameters(legacy: dict[str, Any]) -> dict[str, Any]:
    """orq's camelCase `model_parameters` under the OpenAI names (thinking budget included)."""
    out: dict[str, Any] = {}
    for name, value in legacy.items():
        if name not in LEGACY_NAMES and name not in _THINKING:
            raise InvalidRequest(
                f"prompt_config.model_parameters.{name} is not a chat-completions parameter "
                f"(known: {', '.join([*LEGACY_NAMES, *_THINKING])}).",
                param=f"prompt_config.model_parameters.{name}")
        if name in LEGACY_NAMES and value is not None:
            out[LEGACY_NAMES[name]] = value
    if legacy.get("budgetTokens") is not None:
        thinking = {"type": "enabled", "budget_tokens": legacy["budgetTokens"]}
        if legacy.get("thinkingLevel") is not None:
            thinking["thinking_level"] = legacy["thinkingLevel"]
        out["thinking"] = thinking
    elif legacy.get("thinkingLevel") is not None:
        raise InvalidRequest("prompt_config.model_parameters.thinkingLevel needs budgetTokens.",
                             param="prompt_config.model_parameters.thinkingLevel")
    return out


def legacy_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """The parameters under orq's camelCase names where it has one (the deprecated view);
    the rest keep their OpenAI names."""
    out: dict[str, Any] = {}
    for name, value in parameters.items():
        if name == "thinking" and isinstance(value, dict) and value.get("type") == "enabled":
            out["budgetTokens"] = value.get("budget_tokens")
            if value.get("thinking_level") is not None:
                out["thinkingLevel"] = value["thinking_level"]
        else:
            out[OPENAI_NAMES.get(name, name)] = value
    return out


def _split(prompt: dict[str, Any], *, keep_nulls: bool = False) -> PromptConfig:
    parameters: dict[str, Any] = {}
    for name, value in prompt.items():
        if name in ("messages", "model"):
            continue
        if name in GATEWAY_FIELDS or name in REQUEST_ONLY:
            raise InvalidRequest(
                f"prompt.{name} belongs to a request, not to a stored prompt (a prompt holds "
                "messages, a model and model parameters); send it with the request.",
                param=f"prompt.{name}")
        if name not in PARAMETERS:
            raise InvalidRequest(f"Unrecognized request argument supplied: prompt.{name}",
                                 param=f"prompt.{name}")
        if value is not None or keep_nulls:
            parameters[name] = value
    model = prompt.get("model")
    if model is not None and not isinstance(model, str):
        raise InvalidRequest("Invalid value for prompt.model: a string is required.",
                             param="prompt.model")
    return PromptConfig(prompt.get("messages") or [], model or None, parameters)


def _flat(legacy: dict[str, Any]) -> dict[str, Any]:
    """A `prompt_config` patch spelt as a `prompt` patch."""
    out: dict[str, Any] = {k: legacy[k] for k in ("messages",) if k in legacy}
    if "model" in legacy:
        out["model"] = _model(legacy)
    names = legacy.get("model_parameters") or {}
    out.update(openai_parameters(names))
    for name, value in names.items():
        if value is None:
            out["thinking" if name in _THINKING else LEGACY_NAMES[name]] = None
    return out


def _model(config: dict[str, Any]) -> str | None:
    """orq's older configs name the provider apart: `{provider: "openai", model: "gpt-4o"}`."""
    model, provider = config.get("model"), config.get("provider")
    if model and provider and "/" not in model:
        return f"{provider}/{model}"
    return model or None


def _located(error: InvalidRequest, where: str) -> InvalidRequest:
    """The error renamed to the field as the caller spelt it (`prompt.temperature`,
    `prompt_config.model_parameters.maxTokens`)."""
    param = error.param or ""
    head, dot, rest = param.partition(".")
    name, bracket, index = head.partition("[")
    if where == "prompt_config" and name not in ("messages", "model") and param:
        if name == "thinking":
            located = f"{where}.model_parameters.budgetTokens"
        else:
            located = f"{where}.model_parameters.{OPENAI_NAMES.get(name, name)}"
            located += f"{bracket}{index}{dot}{rest}"
    else:
        located = f"{where}.{param}" if param else where
    message = error.message.replace(param, located, 1) if param else error.message
    return InvalidRequest(message, param=located)
