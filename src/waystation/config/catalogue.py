"""The built-in providers: wire format, default endpoint and the variables each one reads.

Variable names follow each provider's official SDK, so a machine already set up for that SDK
works unchanged; the first name in each tuple is the documented one.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    name: str
    wire: str
    default_base_url: str
    key_vars: tuple[str, ...] = ()
    base_url_vars: tuple[str, ...] = ()
    needs_key: bool = True
    # OpenAI-format extras this provider takes beyond OpenAI's own parameters
    extra_params: frozenset[str] = frozenset()
    # OpenAI parameters this provider is known to refuse
    refused_params: frozenset[str] = frozenset()
    models: tuple[str, ...] = ()
    extra_headers_from_env: tuple[tuple[str, str], ...] = field(default=())


def _compat(
    name: str,
    base: str,
    *,
    key: tuple[str, ...] | None = None,
    needs_key: bool = True,
    extra: frozenset[str] = frozenset(),
    models: tuple[str, ...] = (),
) -> ProviderSpec:
    upper = name.upper()
    return ProviderSpec(
        name=name,
        wire="openai",
        default_base_url=base,
        key_vars=key or (f"{upper}_API_KEY",),
        base_url_vars=(f"{upper}_BASE_URL",),
        needs_key=needs_key,
        extra_params=extra,
        models=models,
    )


_TOP_K = frozenset({"top_k"})

BUILTIN: dict[str, ProviderSpec] = {
    spec.name: spec
    for spec in (
        ProviderSpec(
            name="openai",
            wire="openai",
            default_base_url="https://api.openai.com/v1",
            key_vars=("OPENAI_API_KEY",),
            base_url_vars=("OPENAI_BASE_URL",),
            models=("gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-5", "gpt-5-mini",
                    "o3", "o4-mini"),
            extra_headers_from_env=(
                ("OpenAI-Organization", "OPENAI_ORG_ID"),
                ("OpenAI-Project", "OPENAI_PROJECT_ID"),
            ),
        ),
        _compat("groq", "https://api.groq.com/openai/v1",
                models=("llama-3.3-70b-versatile", "llama-3.1-8b-instant")),
        _compat("mistral", "https://api.mistral.ai/v1",
                models=("mistral-large-latest", "mistral-small-latest")),
        _compat("deepseek", "https://api.deepseek.com/v1",
                models=("deepseek-chat", "deepseek-reasoner")),
        _compat("together", "https://api.together.xyz/v1", extra=_TOP_K),
        _compat("fireworks", "https://api.fireworks.ai/inference/v1", extra=_TOP_K),
        _compat("openrouter", "https://openrouter.ai/api/v1", extra=_TOP_K),
        _compat("xai", "https://api.x.ai/v1", models=("grok-4", "grok-3-mini")),
        _compat("perplexity", "https://api.perplexity.ai",
                key=("PERPLEXITY_API_KEY", "PPLX_API_KEY"), extra=_TOP_K,
                models=("sonar", "sonar-pro")),
        _compat("cerebras", "https://api.cerebras.ai/v1"),
        _compat("nvidia", "https://integrate.api.nvidia.com/v1"),
        _compat("deepinfra", "https://api.deepinfra.com/v1/openai", extra=_TOP_K),
        _compat("moonshotai", "https://api.moonshot.ai/v1", key=("MOONSHOT_API_KEY",)),
        _compat("ollama", "http://localhost:11434/v1", needs_key=False, extra=_TOP_K),
        _compat("vllm", "http://localhost:8000/v1", needs_key=False, extra=_TOP_K),
        _compat("lmstudio", "http://localhost:1234/v1", needs_key=False, extra=_TOP_K),
    )
}

# Other spellings of the same provider (orq's own names among them).
ALIASES: dict[str, str] = {
    "togetherai": "together",
    "x-ai": "xai",
    "moonshot": "moonshotai",
}
