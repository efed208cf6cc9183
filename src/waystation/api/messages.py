"""The chat message shapes we accept: every role and content part of the orq/OpenAI API.

These models validate at the edge and document `/openapi.json`; the gateway forwards the
caller's own JSON (not a re-serialisation of these models), so "not sent" stays distinct from
"sent as null".
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]


class Strict(BaseModel):
    """Unknown keys are errors: a misspelt field must never be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class CacheControl(Strict):
    type: Literal["ephemeral"]
    ttl: Literal["5m", "1h"] | None = None


class TextPart(Strict):
    type: Literal["text"]
    text: str
    cache_control: CacheControl | None = None


class ImageURL(Strict):
    url: str
    detail: Literal["low", "high", "auto"] | None = None


class ImagePart(Strict):
    type: Literal["image_url"]
    image_url: ImageURL
    cache_control: CacheControl | None = None


class InputAudio(Strict):
    data: str
    format: Literal["mp3", "wav"]


class AudioPart(Strict):
    type: Literal["input_audio"]
    input_audio: InputAudio


class FileData(Strict):
    file_data: str | None = None
    file_id: str | None = None
    uri: str | None = None
    mimeType: str | None = None
    filename: str | None = None

    @model_validator(mode="after")
    def _exactly_one_source(self) -> FileData:
        given = [k for k in ("file_data", "file_id", "uri") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a file part needs exactly one of file_data, file_id or uri")
        return self


class FilePart(Strict):
    type: Literal["file"]
    file: FileData
    cache_control: CacheControl | None = None


class RefusalPart(Strict):
    type: Literal["refusal"]
    refusal: str | None = None


class ReasoningPart(Strict):
    type: Literal["reasoning"]
    reasoning: str
    signature: str | None = None


class RedactedReasoningPart(Strict):
    type: Literal["redacted_reasoning"]
    data: str


UserPart = Annotated[
    TextPart | ImagePart | AudioPart | FilePart, Field(discriminator="type")
]
AssistantPart = Annotated[
    TextPart | RefusalPart | ReasoningPart | RedactedReasoningPart, Field(discriminator="type")
]


class SystemMessage(Strict):
    role: Literal["system"]
    content: str | list[TextPart]
    name: Name | None = None


class DeveloperMessage(Strict):
    role: Literal["developer"]
    content: str | list[TextPart]
    name: Name | None = None


class UserMessage(Strict):
    role: Literal["user"]
    content: str | list[UserPart]
    name: Name | None = None


class FunctionCall(Strict):
    name: str | None = None
    arguments: str | None = None


class GoogleExtra(Strict):
    thought_signature: str | None = None


class ExtraContent(Strict):
    google: GoogleExtra | None = None


class ToolCall(Strict):
    id: str
    type: Literal["function"]
    function: FunctionCall
    index: int | None = None
    thought_signature: str | None = None
    extra_content: ExtraContent | None = None


class AssistantAudioRef(BaseModel):
    """An earlier audio answer, referred to by id (the other keys of the answer are tolerated)."""

    model_config = ConfigDict(extra="allow")
    id: str


class AssistantMessage(Strict):
    """An earlier answer, as the caller sends it back (often the response's message verbatim)."""

    role: Literal["assistant"]
    content: str | list[AssistantPart] | None = None
    refusal: str | None = None
    name: Name | None = None
    audio: AssistantAudioRef | None = None
    tool_calls: list[ToolCall] | None = None
    function_call: FunctionCall | None = None
    annotations: list[dict[str, Any]] | None = None
    reasoning: str | None = None
    reasoning_content: str | None = None
    reasoning_signature: str | None = None
    redacted_reasoning: str | None = None

    @model_validator(mode="after")
    def _content_or_tool_calls(self) -> AssistantMessage:
        has_other = self.tool_calls or self.function_call or self.audio or self.refusal
        if "content" not in self.model_fields_set and not has_other:
            raise ValueError("an assistant message needs content unless it has tool_calls")
        return self


class ToolMessage(Strict):
    role: Literal["tool"]
    content: str | list[TextPart]
    tool_call_id: str | None
    cache_control: CacheControl | None = None


class FunctionMessage(Strict):
    """The deprecated OpenAI `function` role, kept so old clients still work."""

    role: Literal["function"]
    content: str | None
    name: str


Message = Annotated[
    SystemMessage
    | DeveloperMessage
    | UserMessage
    | AssistantMessage
    | ToolMessage
    | FunctionMessage,
    Field(discriminator="role"),
]
