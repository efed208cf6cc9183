"""The chat-completions request: the OpenAI fields, the orq fields and the `orq` object.

Ranges and enums follow the orq API (seed page and SDK models); the SDK's own quirks
(int-valued floats such as ``"count": 2.0``, defaults sent unasked) validate cleanly.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, with_config
from typing_extensions import TypedDict

from waystation.api.messages import NAME_PATTERN, CacheControl, Message, Name, Strict

Number = float
Weight = Annotated[float, Field(ge=0.001, le=1.0)]
StatusCode = Annotated[int, Field(ge=100, le=599)]


class Audio(Strict):
    voice: Literal["alloy", "echo", "fable", "onyx", "nova", "shimmer", "ash", "ballad",
                   "coral", "sage", "verse", "marin", "cedar"]
    format: Literal["wav", "mp3", "flac", "opus", "pcm16", "aac"]


class JSONSchemaSpec(Strict):
    name: Name
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ResponseFormatText(Strict):
    type: Literal["text"]


class ResponseFormatJSONObject(Strict):
    type: Literal["json_object"]


class ResponseFormatJSONSchema(Strict):
    type: Literal["json_schema"]
    json_schema: JSONSchemaSpec


ResponseFormat = Annotated[
    ResponseFormatText | ResponseFormatJSONObject | ResponseFormatJSONSchema,
    Field(discriminator="type"),
]


class StreamOptions(Strict):
    include_usage: bool | None = None
    include_obfuscation: bool | None = None


class ThinkingDisabled(Strict):
    type: Literal["disabled"]


class ThinkingEnabled(Strict):
    type: Literal["enabled"]
    budget_tokens: Annotated[int, Field(ge=1024)]
    thinking_level: Literal["minimal", "low", "medium", "high"] | None = None


class ThinkingAdaptive(Strict):
    type: Literal["adaptive"]


Thinking = Annotated[
    ThinkingDisabled | ThinkingEnabled | ThinkingAdaptive, Field(discriminator="type")
]


class FunctionParameters(BaseModel):
    """A JSON Schema object; only its outer shape is checked, the rest is the provider's."""

    model_config = ConfigDict(extra="allow")
    type: Literal["object"]
    properties: dict[str, Any] | None = None
    required: list[str] | None = None
    additionalProperties: bool | dict[str, Any] | None = None


class FunctionDefinition(Strict):
    name: Name
    description: str | None = None
    parameters: FunctionParameters | None = None
    strict: bool | None = None


class Tool(Strict):
    type: Literal["function"] = "function"
    function: FunctionDefinition
    cache_control: CacheControl | None = None


class NamedFunction(Strict):
    name: str


class NamedToolChoice(Strict):
    type: Literal["function"] = "function"
    function: NamedFunction


class Guardrail(Strict):
    id: str
    execute_on: Literal["input", "output"]


# The routing settings are validated into plain dicts (typed dicts), not models: they are read
# once, by `routing_options`, and a nested model costs a request about twice as much to build.
RETRY_COUNT = 3  # `retry.count` when a retry object does not say


@with_config(ConfigDict(extra="forbid"))
class Retry(TypedDict):
    count: NotRequired[Annotated[int, Field(ge=1, le=5,
                                            json_schema_extra={"default": RETRY_COUNT})]]
    on_codes: NotRequired[list[StatusCode] | None]


@with_config(ConfigDict(extra="forbid"))
class Fallback(TypedDict):
    model: str


class PromptRef(Strict):
    id: str
    version: Literal["latest"]


class Contact(Strict):
    id: str
    display_name: str | None = None
    email: str | None = None
    metadata: list[dict[str, Any]] | dict[str, Any] | None = None
    logo_url: str | None = None
    tags: list[str] | None = None


class Thread(Strict):
    id: str
    tags: list[str] | None = None


class InputEntry(Strict):
    key: str
    value: Any = None
    is_pii: bool | None = None


class Cache(Strict):
    type: Literal["exact_match"]
    ttl: Annotated[int, Field(ge=1, le=259200)] | None = None


class LoadBalancerEntry(Strict):
    type: Literal["weight_based"] | None = None
    model: str
    weight: Weight = 0.5


class LoadBalancerModel(Strict):
    model: str
    weight: Weight = 0.5


class LoadBalancer(Strict):
    type: Literal["weight_based"]
    models: Annotated[list[LoadBalancerModel], Field(min_length=1)]


@with_config(ConfigDict(extra="forbid"))
class Timeout(TypedDict):
    call_timeout: Annotated[float, Field(gt=0)]


class RerankConfig(Strict):
    model: str
    threshold: Annotated[float, Field(ge=0, le=1)] | None = None
    top_k: Annotated[int, Field(ge=1, le=100)] | None = None


class AgenticRagConfig(Strict):
    model: str


class SearchOptions(Strict):
    include_vectors: bool | None = None
    include_metadata: bool | None = None
    include_scores: bool | None = None


class KnowledgeBaseQuery(Strict):
    knowledge_id: str
    top_k: Annotated[int, Field(ge=1, le=100)] | None = None
    threshold: Annotated[float, Field(ge=0, le=1)] | None = None
    search_type: Literal["vector_search", "keyword_search", "hybrid_search"] | None = None
    filter_by: dict[str, Any] | None = None
    search_options: SearchOptions | None = None
    rerank_config: RerankConfig | None = None
    agentic_rag_config: AgenticRagConfig | None = None
    query: str | None = None


def _no_repeats(codes: list[int]) -> list[int]:
    if len(set(codes)) != len(codes):
        raise ValueError("fallback_on_codes must not repeat a code")
    return codes


FallbackCodes = Annotated[
    list[Annotated[int, Field(ge=400, le=599)]],
    Field(max_length=20),
    AfterValidator(_no_repeats),
]


class Orq(Strict):
    """The `orq` extension object (deprecated by the SDK in favour of top-level fields)."""

    name: str | None = None
    retry: Retry | None = None
    fallbacks: list[Fallback] | None = None
    fallback_on_codes: FallbackCodes | None = None
    prompt: PromptRef | None = None
    contact: Contact | None = None
    identity: Contact | None = None
    thread: Thread | None = None
    inputs: dict[str, Any] | list[InputEntry] | None = None
    cache: Cache | None = None
    knowledge_bases: list[KnowledgeBaseQuery] | None = None
    load_balancer: list[LoadBalancerEntry] | LoadBalancer | None = None
    timeout: Timeout | None = None


class ChatCompletionRequest(Strict):
    """`POST /v2/gateway/chat/completions` (and its aliases)."""

    model_config = ConfigDict(extra="forbid", title="ChatCompletionRequest")

    messages: list[Message]
    model: str | None = None
    metadata: dict[str, Annotated[str, Field(max_length=512)]] | None = None
    name: str | None = None
    audio: Audio | None = None
    frequency_penalty: Annotated[float, Field(ge=-2, le=2)] | None = None
    presence_penalty: Annotated[float, Field(ge=-2, le=2)] | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
    n: Annotated[int, Field(ge=1)] | None = None
    response_format: ResponseFormat | None = None
    reasoning_effort: Literal[
        "none", "minimal", "low", "medium", "high", "xhigh", "instant", "max"
    ] | None = None
    verbosity: str | None = None
    seed: Number | None = None
    stop: str | Annotated[list[str], Field(max_length=4)] | None = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    thinking: Thinking | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    top_k: Annotated[float, Field(ge=0)] | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    modalities: list[Literal["text", "audio"]] | None = None
    user: str | None = None
    logit_bias: dict[str, Annotated[float, Field(ge=-100, le=100)]] | None = None
    store: bool | None = None
    service_tier: str | None = None
    prediction: dict[str, Any] | None = None
    web_search_options: dict[str, Any] | None = None
    prompt_cache_key: str | None = None
    safety_identifier: str | None = None
    functions: list[FunctionDefinition] | None = None
    function_call: Literal["none", "auto"] | NamedFunction | None = None
    cache_control: CacheControl | None = None
    guardrails: list[Guardrail] | None = None
    plugins: list[dict[str, Any]] | None = None
    # top-level copies of the orq features (newer SDKs); they win over `orq`
    retry: Retry | None = None
    fallbacks: list[Fallback] | None = None
    fallback_on_codes: FallbackCodes | None = None
    cache: Cache | None = None
    load_balancer: list[LoadBalancerEntry] | LoadBalancer | None = None
    timeout: Timeout | None = None
    variables: dict[str, Any] | None = None
    orq: Orq | None = None

    @field_validator("metadata")
    @classmethod
    def _metadata_limits(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        if v is None:
            return v
        if len(v) > 16:
            raise ValueError("metadata holds at most 16 key-value pairs")
        for key in v:
            if len(key) > 64:
                raise ValueError(f"metadata key {key[:70]!r} is longer than 64 characters")
        return v


__all__ = ["NAME_PATTERN", "ChatCompletionRequest"]
