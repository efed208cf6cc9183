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
    # provider-specific settings: (option name, variables to read, default)
    option_vars: tuple[tuple[str, tuple[str, ...], str | None], ...] = ()


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
        ProviderSpec(
            name="anthropic",
            wire="anthropic",
            default_base_url="https://api.anthropic.com",
            key_vars=("ANTHROPIC_API_KEY",),
            base_url_vars=("ANTHROPIC_BASE_URL",),
            models=("claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"),
            option_vars=(("anthropic_version", ("ANTHROPIC_VERSION",), "2023-06-01"),),
        ),
        ProviderSpec(
            name="google",
            wire="gemini",
            default_base_url="https://generativelanguage.googleapis.com",
            key_vars=("GEMINI_API_KEY", "GOOGLE_API_KEY"),
            base_url_vars=("GEMINI_BASE_URL", "GOOGLE_GEMINI_BASE_URL"),
            models=("gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite"),
        ),
        ProviderSpec(
            name="bedrock",
            wire="bedrock",
            default_base_url="",  # derived from the region by the adapter
            key_vars=("AWS_BEARER_TOKEN_BEDROCK",),
            base_url_vars=("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL"),
            needs_key=False,  # the AWS credential chain is resolved by the adapter
            option_vars=(("region", ("AWS_REGION", "AWS_DEFAULT_REGION"), "us-east-1"),),
        ),
        ProviderSpec(
            name="azure",
            wire="azure",
            default_base_url="",  # there is no default: AZURE_OPENAI_ENDPOINT names the resource
            key_vars=("AZURE_OPENAI_API_KEY",),
            base_url_vars=("AZURE_OPENAI_ENDPOINT",),
            option_vars=(("api_version", ("OPENAI_API_VERSION",), "2024-10-21"),),
        ),
        ProviderSpec(
            name="cohere",
            wire="cohere",
            default_base_url="https://api.cohere.com",
            key_vars=("COHERE_API_KEY", "CO_API_KEY"),
            base_url_vars=("COHERE_BASE_URL", "CO_API_URL"),
            models=("command-a-03-2025", "command-r-plus-08-2024", "command-r7b-12-2024"),
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
        # Embedding and reranking providers: no chat adapter speaks their wire, so a chat
        # request naming them is refused as an unknown provider; `waystation.embeddings` serves
        # them.
        ProviderSpec(
            name="jina",
            wire="jina",
            default_base_url="https://api.jina.ai/v1",
            key_vars=("JINA_API_KEY",),
            base_url_vars=("JINA_BASE_URL",),
        ),
        ProviderSpec(
            name="voyage",
            wire="voyage",
            default_base_url="https://api.voyageai.com/v1",
            key_vars=("VOYAGE_API_KEY",),
            base_url_vars=("VOYAGE_BASE_URL",),
        ),
        # Models that run inside the gateway process (optional extras): nothing to reach.
        ProviderSpec(name="local", wire="local", default_base_url="", needs_key=False),
    )
}

# Other spellings of the same provider (orq's own names among them).
ALIASES: dict[str, str] = {
    "gemini": "google",
    "google-ai": "google",
    "aws": "bedrock",
    "togetherai": "together",
    "x-ai": "xai",
    "moonshot": "moonshotai",
    "jinaai": "jina",
    "voyageai": "voyage",
}
