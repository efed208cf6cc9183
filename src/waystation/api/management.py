"""The management APIs' wire contract: contacts/identities, traces, threads, usage.

Request models validate what callers send (unknown fields are refused, as everywhere in the
gateway); answer models describe what the handlers return, for `/openapi.json` and for tests.
Field names follow orq's management APIs: entity ids under `_id`, times as ISO 8601 strings.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from waystation.api import LazyModel

Tag = Annotated[str, Field(min_length=1, max_length=255)]


class _Strict(LazyModel):
    model_config = ConfigDict(extra="forbid")


class _Answer(LazyModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class ContactUpdate(_Strict):
    """PATCH body: only the fields sent change; `null` clears a field."""

    display_name: str | None = Field(None, max_length=2048)
    email: str | None = Field(None, max_length=2048)
    avatar_url: str | None = Field(None, max_length=4096)
    tags: list[Tag] | None = Field(None, max_length=100)
    metadata: dict[str, Any] | None = None


class ContactCreate(ContactUpdate):
    external_id: str = Field(min_length=1, max_length=255)


class ContactMetrics(_Answer):
    total_cost: float
    total_tokens: int
    total_requests: int
    error_rate: float


class ContactRecord(_Answer):
    id: str = Field(alias="_id")
    external_id: str
    workspace_id: str
    display_name: str | None = None
    email: str | None = None
    avatar_url: str | None = None
    tags: list[str] = []
    metadata: dict[str, Any] = {}
    created: str
    updated: str
    metrics: ContactMetrics | None = None


class ContactList(_Answer):
    object: Literal["list"] = "list"
    data: list[ContactRecord]
    has_more: bool


class IdentityAnswer(_Answer):
    """orq's identities API (SDK 4.4 and later) wraps the entity."""

    identity: ContactRecord


class TraceAttempt(_Answer):
    model: str
    status: int | None
    duration_ms: float
    error: str | None = None
    code: str | None = None


class TraceRecord(_Answer):
    id: str = Field(alias="_id")
    request_id: str | None = None
    created: str
    name: str | None = None
    requested_model: str | None = None
    model: str | None = None
    status: int
    stream: bool
    latency_ms: float | None = None
    ttft_ms: float | None = None
    usage: dict[str, Any] | None = None
    cost: float | None = Field(None, description="US dollars; null when the price is unknown")
    cost_details: dict[str, Any] | None = None
    cache_hit: bool | None = None
    attempts: list[TraceAttempt] = []
    contact_id: str | None = Field(None, description="the contact's external_id")
    thread_id: str | None = None
    key_id: str | None = None
    metadata: dict[str, str] = {}
    error: dict[str, Any] | None = None
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None


class TraceList(_Answer):
    object: Literal["list"] = "list"
    data: list[TraceRecord]
    has_more: bool


class Thread(_Answer):
    id: str = Field(alias="_id")
    tags: list[str]
    first_seen: str
    last_seen: str
    total_requests: int
    total_errors: int
    total_input_tokens: int
    total_output_tokens: int
    total_tokens: int
    total_cost: float | None


class ThreadDetail(Thread):
    requests: list[TraceRecord]
    requests_has_more: bool


class ThreadList(_Answer):
    object: Literal["list"] = "list"
    data: list[Thread]
    has_more: bool


class UsageRow(_Answer):
    """One group; its keys (`key_id`, `contact_id`, `model`, `day`) depend on `group_by`."""

    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    cost: float | None
    unpriced_requests: int


class UsageReport(_Answer):
    object: Literal["list"] = "list"
    data: list[UsageRow]
    has_more: bool
    group_by: list[str]
    start: str | None
    end: str | None
    currency: Literal["USD"] = "USD"
