"""Request parameters → Gemini `generationConfig`, as tables; and what Gemini cannot take.

| caller | `generationConfig` |
|---|---|
| `temperature`, `top_p`, `top_k` | `temperature`, `topP`, `topK` |
| `max_completion_tokens` (else `max_tokens`) | `maxOutputTokens` |
| `stop` | `stopSequences` |
| `n` | `candidateCount` |
| `seed` | `seed` |
| `presence_penalty`, `frequency_penalty` | `presencePenalty`, `frequencyPenalty` |
| `logprobs`, `top_logprobs` | `responseLogprobs`, `logprobs` |
| `response_format` json_object | `responseMimeType: application/json` |
| `response_format` json_schema | the same + `responseSchema` (converted, see `schema.py`) |
| `thinking`, `reasoning_effort` | `thinkingConfig` (see `thinking.py`) |

Every field of the request is either translated, read by the gateway, or listed in `REFUSED`;
a field in none of these is refused too, so nothing the caller set is ever silently ignored.
"""

from __future__ import annotations

from typing import Any

from waystation.errors import InvalidRequest, UnsupportedParameter
from waystation.providers.gemini.schema import convert_schema
from waystation.providers.gemini.thinking import thinking_config
from waystation.providers.refusals import unsupported_parameter

# Sent across unchanged, under Gemini's name.
DIRECT = {
    "temperature": "temperature",
    "top_p": "topP",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}

# Integers (the orq SDK sends them as int-valued floats).
INTEGERS = {
    "top_k": "topK",
    "seed": "seed",
    "n": "candidateCount",
    "max_tokens": "maxOutputTokens",
    "max_completion_tokens": "maxOutputTokens",  # after max_tokens: it wins when both are set
}

# Read by the encoder itself (messages, tools …) or by the server (stream options).
HANDLED = frozenset(
    {
        "model", "messages", "stream", "stream_options", "tools", "tool_choice",
        "parallel_tool_calls", "response_format", "stop", "logprobs", "top_logprobs",
        "thinking", "reasoning_effort", "modalities", *DIRECT, *INTEGERS,
    }
)

# What Gemini's generateContent has no way to carry: field → why.
REFUSED = {
    "logit_bias": "Gemini has no token biasing",
    "audio": "Gemini chat answers carry no audio output here",
    "prediction": "Gemini has no predicted outputs",
    "web_search_options": "Gemini's search grounding is not exposed by this gateway",
    "user": "Gemini has no end-user id field",
    "store": "Gemini does not store chat completions",
    "service_tier": "Gemini has no service tiers on this API",
    "verbosity": "Gemini has no verbosity setting",
    "prompt_cache_key": "Gemini caches prompts implicitly, with no cache key",
    "safety_identifier": "Gemini has no end-user id field",
    "cache_control": "Gemini caches prompts implicitly, with no cache hints",
    "functions": "use 'tools' instead of the deprecated 'functions'",
    "function_call": "use 'tool_choice' instead of the deprecated 'function_call'",
}


def unsupported(field: str, why: str, provider: str) -> UnsupportedParameter:
    return unsupported_parameter(field, provider, f" ({why})")


def accepted_fields(body: dict[str, Any], provider: str, drop: bool) -> dict[str, Any]:
    """The caller's fields that will be translated: unset (null) ones left out, refused ones
    raised (or left out when dropping is configured)."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        if value is None:
            continue
        if key in HANDLED:
            out[key] = value
        elif not drop:
            raise unsupported(key, REFUSED.get(key, "unknown to this adapter"), provider)
    if out.get("parallel_tool_calls") is False and not drop:
        raise unsupported("parallel_tool_calls", "Gemini cannot be kept from calling several "
                          "functions at once", provider)
    if "audio" in (out.get("modalities") or ()) and not drop:
        raise unsupported("modalities", "Gemini chat answers carry no audio output here",
                          provider)
    return out


def generation_config(
    fields: dict[str, Any], *, model: str, provider: str, drop: bool
) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for key, name in DIRECT.items():
        if key in fields:
            config[name] = fields[key]
    for key, name in INTEGERS.items():
        if key in fields:
            config[name] = _integer(fields[key], key)
    stop = fields.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    if fields.get("logprobs") is True:
        config["responseLogprobs"] = True
        if fields.get("top_logprobs"):
            config["logprobs"] = _integer(fields["top_logprobs"], "top_logprobs")
    config.update(_response_format(fields.get("response_format"), provider))
    thinking = thinking_config(
        fields.get("thinking"), fields.get("reasoning_effort"),
        model=model, provider=provider, drop=drop,
    )
    if thinking is not None:
        config["thinkingConfig"] = thinking
    return config


def _integer(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequest(f"'{field}' must be an integer.", param=field)
    if isinstance(value, float) and not value.is_integer():
        raise InvalidRequest(f"'{field}' must be a whole number; got {value}.", param=field)
    return int(value)


def _response_format(fmt: dict[str, Any] | None, provider: str) -> dict[str, Any]:
    if fmt is None or fmt["type"] == "text":
        return {}
    out: dict[str, Any] = {"responseMimeType": "application/json"}
    if fmt["type"] == "json_schema":
        spec = fmt["json_schema"]
        schema = spec.get("schema")
        if schema is not None:
            out["responseSchema"] = convert_schema(
                schema,
                where=f"response_format '{spec['name']}'",
                param="response_format.json_schema.schema",
                provider=provider,
            )
    return out
