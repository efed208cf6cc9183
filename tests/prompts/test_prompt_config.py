"""A stored prompt's config is checked as a chat request is, in both of orq's spellings."""

from __future__ import annotations

from typing import Any

import pytest

from waystation.api.prompts import config_fields
from waystation.errors import InvalidRequest
from waystation.prompts.config import from_legacy, from_prompt, patched
from waystation.store.prompts import PromptConfig

SYSTEM = [{"role": "system", "content": "Be brief."}]


def refused(make: Any, data: dict[str, Any], param: str) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        make(data)
    assert info.value.status == 400
    assert info.value.param == param, info.value.message
    assert param in info.value.message
    return info.value


def test_the_newer_shape_keeps_openai_names_and_stores_ints() -> None:
    made = from_prompt({"messages": SYSTEM, "model": "openai/gpt-4o", "temperature": 0.3,
                        "max_tokens": 200.0, "seed": None})
    assert made == PromptConfig(SYSTEM, "openai/gpt-4o", {"temperature": 0.3, "max_tokens": 200})
    assert isinstance(made.parameters["max_tokens"], int)


def test_the_deprecated_shape_maps_camel_case_names() -> None:
    made = from_legacy({"messages": SYSTEM, "model": "gpt-4o", "provider": "openai",
                        "model_parameters": {"temperature": 1, "maxTokens": 4096.0, "topK": 3,
                                             "topP": 0.9, "frequencyPenalty": 0.5,
                                             "presencePenalty": -0.5, "budgetTokens": 2048,
                                             "responseFormat": {"type": "json_object"}}})
    assert made.model == "openai/gpt-4o"
    assert made.parameters == {
        "temperature": 1, "max_tokens": 4096, "top_k": 3, "top_p": 0.9, "frequency_penalty": 0.5,
        "presence_penalty": -0.5, "response_format": {"type": "json_object"},
        "thinking": {"type": "enabled", "budget_tokens": 2048}}
    shown = config_fields(made)["prompt_config"]["model_parameters"]
    assert shown["maxTokens"] == 4096 and shown["budgetTokens"] == 2048 and shown["topP"] == 0.9


@pytest.mark.parametrize(("data", "param"), [
    ({"messages": SYSTEM, "temperature": 3}, "prompt.temperature"),
    ({"messages": SYSTEM, "top_logprobs": 3}, "prompt.top_logprobs"),
    ({"messages": SYSTEM, "stop": ["a", "b", "c", "d", "e"]}, "prompt.stop"),
    ({"messages": [{"role": "user"}]}, "prompt.messages[0].content"),
    ({"messages": [{"role": "wizard", "content": "x"}]}, "prompt.messages[0]"),
    ({"messages": []}, "prompt.messages"),
    ({"temperature": 1}, "prompt.messages"),
    ({"messages": SYSTEM, "temprature": 1}, "prompt.temprature"),
    ({"messages": SYSTEM, "retry": {"count": 2}}, "prompt.retry"),
    ({"messages": SYSTEM, "stream": True}, "prompt.stream"),
    ({"messages": SYSTEM, "model": 4}, "prompt.model"),
    ({"messages": SYSTEM, "max_tokens": 2000,
      "thinking": {"type": "enabled", "budget_tokens": 4096}}, "prompt.thinking.budget_tokens"),
])
def test_what_a_chat_request_would_refuse_cannot_be_stored(
        data: dict[str, Any], param: str) -> None:
    refused(from_prompt, data, param)


@pytest.mark.parametrize(("parameters", "param"), [
    ({"maxTokens": 0}, "prompt_config.model_parameters.maxTokens"),
    ({"frequencyPenalty": 9}, "prompt_config.model_parameters.frequencyPenalty"),
    ({"numImages": 2}, "prompt_config.model_parameters.numImages"),
    ({"thinkingLevel": "low"}, "prompt_config.model_parameters.thinkingLevel"),
    ({"budgetTokens": 10}, "prompt_config.model_parameters.budgetTokens"),
])
def test_deprecated_parameter_errors_name_the_camel_case_field(
        parameters: dict[str, Any], param: str) -> None:
    refused(from_legacy, {"messages": SYSTEM, "model_parameters": parameters}, param)


def test_a_patch_merges_into_the_latest_config() -> None:
    current = PromptConfig(SYSTEM, "openai/gpt-4o", {"temperature": 0.2, "top_p": 0.5})
    assert patched(current, None, None) is current
    more = patched(current, {"temperature": 0.9, "top_p": None, "seed": 7}, None)
    assert more == PromptConfig(SYSTEM, "openai/gpt-4o", {"temperature": 0.9, "seed": 7})
    other = [{"role": "system", "content": "Be long."}]
    swapped = patched(current, {"messages": other, "model": None}, None)
    assert swapped == PromptConfig(other, None, {"temperature": 0.2, "top_p": 0.5})
    legacy = patched(current, None, {"model_parameters": {"maxTokens": 10.0, "topP": None}})
    assert legacy.parameters == {"temperature": 0.2, "max_tokens": 10}


def test_a_patch_is_checked_as_a_whole() -> None:
    current = PromptConfig(SYSTEM, None, {"logprobs": True, "top_logprobs": 2})
    with pytest.raises(InvalidRequest) as info:
        patched(current, {"logprobs": None}, None)
    assert info.value.param == "prompt.top_logprobs"
    with pytest.raises(InvalidRequest) as legacy:
        patched(current, None, {"model_parameters": {"temperature": -1}})
    assert legacy.value.param == "prompt_config.model_parameters.temperature"
