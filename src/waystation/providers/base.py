"""The provider-adapter seam: pure translation to and from one wire format, never I/O.

An adapter turns a `ChatCall` into a `WireRequest`, a wire response body into an OpenAI
`chat.completion` dict, and wire stream events into OpenAI `chat.completion.chunk` dicts.
The OpenAI chat format is the gateway's neutral format: it is what callers speak and what
every adapter produces, so streamed and non-streamed answers are accumulated the same way.
The executor (`providers.executor`) does all the sending.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from waystation.config.settings import ProviderConfig
from waystation.core.call import ChatCall
from waystation.errors import UpstreamError

Chunk = dict[str, Any]


@dataclass(frozen=True, slots=True)
class WireRequest:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Target:
    """Where one attempt goes: the provider as configured and the model name it knows."""

    provider: ProviderConfig
    model: str  # the provider's own model name
    public_model: str  # `provider/model`, what the response's `model` says

    @property
    def provider_name(self) -> str:
        return self.provider.name


class EventParser(Protocol):
    """Cuts the raw bytes of a streamed answer into wire events (SSE for most providers)."""

    def feed(self, chunk: bytes) -> list[Any]: ...

    def close(self) -> list[Any]: ...


class StreamDecoder(Protocol):
    def feed(self, event: Any) -> list[Chunk]:
        """Translate one wire event (what the adapter's event parser yields) into chunks.

        After the finish chunk a decoder always yields one `{"choices": [], "usage": …}` chunk
        when the provider reported usage; the server drops it unless the caller asked for
        `stream_options.include_usage`.
        """

    def close(self) -> list[Chunk]:
        """Chunks owed when the wire stream ends; raises if it ended before it was complete."""


class Adapter(Protocol):
    wire: str

    def encode(self, call: ChatCall, target: Target, *, drop_unsupported: bool) -> WireRequest:
        """The wire request for this call; raises `UnsupportedParameter` for what cannot go."""

    def decode(self, body: bytes, target: Target) -> dict[str, Any]:
        """A wire response body → an OpenAI `chat.completion` dict."""

    def event_parser(self) -> EventParser:
        """A fresh parser for one streamed answer (an `SSEParser` for SSE wire formats)."""

    def stream_decoder(self, target: Target) -> StreamDecoder: ...

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, target: Target
    ) -> UpstreamError:
        """A non-2xx wire response → the typed error the caller will see."""
