"""Model ids resolve to a provider, or fail with a status that says why."""

from __future__ import annotations

import pytest

from waystation.config.settings import load_settings
from waystation.errors import NotFound, ProviderNotConfigured
from waystation.providers.registry import Registry


def registry(**env: str) -> Registry:
    return Registry(load_settings(env))


def test_provider_slash_model_resolves() -> None:
    target = registry(OPENAI_API_KEY="k").resolve("openai/gpt-4o-mini")
    assert (target.provider_name, target.model, target.public_model) == (
        "openai", "gpt-4o-mini", "openai/gpt-4o-mini")


def test_model_names_may_contain_slashes() -> None:
    target = registry(TOGETHER_API_KEY="k").resolve("together/meta-llama/Llama-3-8b")
    assert target.model == "meta-llama/Llama-3-8b"


def test_provider_aliases_resolve_to_the_canonical_name() -> None:
    target = registry(TOGETHER_API_KEY="k").resolve("togetherai/m")
    assert target.public_model == "together/m"


@pytest.mark.parametrize("model", ["gpt-4o", "nosuch/model", "/x", "openai/"])
def test_unknown_models_and_providers_are_404(model: str) -> None:
    with pytest.raises(NotFound) as info:
        registry(OPENAI_API_KEY="k").resolve(model)
    assert info.value.status == 404 and info.value.param == "model"


def test_a_provider_without_credentials_names_the_variable() -> None:
    with pytest.raises(ProviderNotConfigured) as info:
        registry().resolve("groq/llama")
    assert "GROQ_API_KEY" in info.value.message


def test_local_providers_need_no_key() -> None:
    assert registry().resolve("ollama/llama3").provider.api_key is None


def test_listed_models_are_the_configured_ones() -> None:
    listed = dict(registry(OPENAI_API_KEY="k").listed_models())
    assert "openai/gpt-4o-mini" in listed
    assert not any(m.startswith("groq/") for m in listed)
