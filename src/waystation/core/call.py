"""The provider-neutral chat call the server hands to the providers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from waystation.prompts.variables import Variables
from waystation.routing.options import RoutingOptions


@dataclass(slots=True)
class ChatCall:
    """A validated request.

    `body` is the caller's own JSON in the OpenAI chat format, minus the gateway's fields:
    adapters translate from it, and the OpenAI wire forwards it nearly as is, so a parameter
    the caller did not set is never sent.
    """

    model: str
    stream: bool
    include_usage: bool
    body: dict[str, Any]
    name: str | None = None
    metadata: dict[str, str] | None = None
    routing: RoutingOptions = field(default_factory=RoutingOptions)
    variables: Variables = field(default_factory=Variables)
    contact: dict[str, Any] | None = None  # orq.identity (or the older orq.contact), as sent
    thread: dict[str, Any] | None = None  # orq.thread {id, tags}
    prompt_id: str | None = None  # orq.prompt.id: a stored prompt's latest version runs first
    cache_ttl: float | None = None  # seconds; None: the request did not ask for the cache
    knowledge: list[dict[str, Any]] = field(default_factory=list)  # orq.knowledge_bases, as sent
    extra: dict[str, Any] = field(default_factory=dict)

    def model_set(self) -> list[str]:
        """Every model this call may be answered by, in plan order (before health reorders)."""
        first = [m for m, _ in self.routing.balanced] or [self.model]
        return first + [m for m in self.routing.fallbacks if m not in first]
