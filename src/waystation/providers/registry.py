"""Model id → where it goes: `provider/model` (or a configured alias) to a target and adapter."""

from __future__ import annotations

import importlib
import logging

from waystation.config.settings import Settings
from waystation.errors import NotFound, ProviderNotConfigured
from waystation.providers.base import Adapter, Target

log = logging.getLogger("waystation.providers")

# wire format → the adapter class that speaks it
ADAPTERS: dict[str, str] = {
    "openai": "waystation.providers.openai_compat.translate:OpenAIAdapter",
    "anthropic": "waystation.providers.anthropic.translate:AnthropicAdapter",
    "gemini": "waystation.providers.gemini.translate:GeminiAdapter",
    "bedrock": "waystation.providers.bedrock.translate:BedrockAdapter",
    "azure": "waystation.providers.azure.translate:AzureAdapter",
    "cohere": "waystation.providers.cohere.translate:CohereAdapter",
}


def load_adapters() -> dict[str, Adapter]:
    """Every adapter whose module is present (an optional extra may be missing)."""
    out: dict[str, Adapter] = {}
    for wire, ref in ADAPTERS.items():
        module_name, _, cls_name = ref.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # this wire format is not part of this build
            log.warning("the %s adapter needs %s, which is not installed", wire, exc.name)
            continue
        out[wire] = getattr(module, cls_name)()
    return out


class Registry:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._adapters = load_adapters()
        self._targets: dict[str, Target] = {}

    def adapter_for(self, target: Target) -> Adapter:
        return self._adapters[target.provider.spec.wire]

    def resolve(self, model_id: str, *, param: str = "model") -> Target:
        """The target for a model id; 404 for an unknown provider, 503 for missing credentials."""
        cached = self._targets.get(model_id)
        if cached is not None:
            return cached
        target = self._resolve(model_id, param)
        if len(self._targets) < 10_000:
            self._targets[model_id] = target
        return target

    def _resolve(self, model_id: str, param: str) -> Target:
        resolved = self._settings.aliases.get(model_id, model_id)
        provider_name, sep, model = resolved.partition("/")
        if not sep or not provider_name or not model:
            raise NotFound(
                f"The model '{model_id}' does not exist: use 'provider/model', "
                "for example 'openai/gpt-4o-mini'.",
                param=param,
                code="model_not_found",
            )
        provider_name = self._settings.provider_aliases.get(provider_name, provider_name)
        provider = self._settings.providers.get(provider_name)
        if provider is None or provider.spec.wire not in self._adapters:
            raise NotFound(
                f"The provider '{provider_name}' (from model '{model_id}') is not known to this "
                "gateway.",
                param=param,
                code="provider_not_found",
            )
        if provider.spec.needs_key and not provider.api_key:
            raise ProviderNotConfigured(
                f"The provider '{provider_name}' has no credentials: set {provider.key_var}.",
                provider=provider_name,
            )
        return Target(provider, model, f"{provider_name}/{model}")

    def listed_models(self) -> list[tuple[str, str]]:
        """(model id, owner) for every model this deployment is set up to serve."""
        out: list[tuple[str, str]] = []
        for alias, real in self._settings.aliases.items():
            out.append((alias, real.partition("/")[0]))
        for name, provider in self._settings.providers.items():
            if provider.spec.wire not in self._adapters:
                continue
            if provider.spec.needs_key and not provider.api_key:
                continue
            if not provider.spec.needs_key and provider.base_url == provider.spec.default_base_url:
                continue  # a local server nobody pointed us at
            out.extend((f"{name}/{m}", name) for m in provider.models)
        return out
