"""What the gateway answers: completion, chunk, error and model list (documentation models).

The hot path builds these as plain dicts; these models describe them in `/openapi.json` and
let tests check that an answer has the shape the SDKs require.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict

from waystation.api import LazyModel

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "function_call"]


class Open(LazyModel):
    model_config = ConfigDict(extra="allow")


class ToolCallFunction(Open):
    name: str | None = None
    arguments: str | None = None


class ToolCallOut(Open):
    index: int | None = None
    id: str | None = None
    type: Literal["function"] | None = None
    function: ToolCallFunction | None = None
    thought_signature: str | None = None


class AssistantOut(Open):
    role: Literal["assistant"] | None = "assistant"
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCallOut] | None = None
    reasoning: str | None = None
    reasoning_signature: str | None = None
    redacted_reasoning: str | None = None


class TopLogprob(Open):
    token: str
    logprob: float
    bytes: list[int] | None


class TokenLogprob(TopLogprob):
    top_logprobs: list[TopLogprob]


class Logprobs(Open):
    content: list[TokenLogprob] | None
    refusal: list[TokenLogprob] | None


class Choice(Open):
    index: int = 0
    finish_reason: FinishReason | None
    message: AssistantOut
    logprobs: Logprobs | None = None


class PromptTokensDetails(Open):
    cached_tokens: int | None = None
    cache_creation_tokens: int | None = None
    audio_tokens: int | None = None


class CompletionTokensDetails(Open):
    reasoning_tokens: int | None = None
    accepted_prediction_tokens: int | None = None
    rejected_prediction_tokens: int | None = None
    audio_tokens: int | None = None


class Usage(Open):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None


class ChatCompletion(Open):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[Choice]
    system_fingerprint: str | None = None
    usage: Usage | None = None


class Delta(Open):
    role: str | None = None
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCallOut] | None = None
    reasoning: str | None = None
    reasoning_signature: str | None = None
    redacted_reasoning: str | None = None


class ChunkChoice(Open):
    index: int = 0
    delta: Delta
    finish_reason: FinishReason | None
    logprobs: Logprobs | None = None


class ChatCompletionChunk(Open):
    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: list[ChunkChoice]
    system_fingerprint: str | None = None
    usage: Usage | None = None


class ErrorDetail(LazyModel):
    code: str | None
    message: str
    param: str | None
    type: str


class ErrorBody(LazyModel):
    error: ErrorDetail


class ModelEntry(LazyModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    type: str = "chat"


class ModelList(LazyModel):
    object: Literal["list"] = "list"
    data: list[ModelEntry]
    has_more: bool = False
