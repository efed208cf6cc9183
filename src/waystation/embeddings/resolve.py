"""Model id → target for embeddings and reranking, by the same rules as chat models.

`provider/model` (or an alias from the config file), provider aliases (`jinaai` → `jina`),
404 for an unknown provider, 503 naming the key variable when credentials are missing. One
rule is this service's own: a provider with no embeddings (or no reranking) is a 400 that says
which providers have them, not a 404, since the provider itself exists.
"""

from __future__ import annotations

from collections.abc import Collection

from waystation.config.settings import Settings
from waystation.errors import InvalidRequest, NotFound, ProviderNotConfigured
from waystation.providers.base import Target


def resolve(
    settings: Settings, model_id: str, wires: Collection[str], what: str, *, param: str = "model"
) -> Target:
    resolved = settings.aliases.get(model_id, model_id)
    provider_name, sep, model = resolved.partition("/")
    if not sep or not provider_name or not model:
        raise NotFound(
            f"The model '{model_id}' does not exist: use 'provider/model', for example "
            "'openai/text-embedding-3-small' or 'local/wordllama'.",
            param=param, code="model_not_found",
        )
    provider_name = settings.provider_aliases.get(provider_name, provider_name)
    provider = settings.providers.get(provider_name)
    if provider is None:
        raise NotFound(
            f"The provider '{provider_name}' (from model '{model_id}') is not known to this "
            "gateway.",
            param=param, code="provider_not_found",
        )
    if provider.spec.wire not in wires:
        offering = sorted(n for n, p in settings.providers.items() if p.spec.wire in wires)
        raise InvalidRequest(
            f"The provider '{provider_name}' offers no {what} through this gateway; providers "
            f"that do: {', '.join(offering)}.",
            param=param, code="model_not_supported",
        )
    if provider.spec.needs_key and not provider.api_key:
        raise ProviderNotConfigured(
            f"The provider '{provider_name}' has no credentials: set {provider.key_var}.",
            provider=provider_name,
        )
    return Target(provider, model, f"{provider_name}/{model}")
