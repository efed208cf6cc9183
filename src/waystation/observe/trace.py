"""The trace of one request: everything observable about it, built on the hot path as plain data
and handed to a recorder that writes it later, in batches, off the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from waystation.observe.pricing import round_to


@dataclass
class Attempt:
    """One try at one model: what it answered and how long it took.

    Without slots: orjson writes a dataclass from its `__dict__` (the stored trace's attempts)
    twice as fast as through the attribute lookups that slots need.
    """

    model: str  # `provider/model`
    status: int | None  # the status this attempt stands for (provider's, 408 for a timeout…)
    duration_ms: float
    error: str | None = None  # the error message, None when it answered
    code: str | None = None  # the error code, None when it answered

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "status": self.status,
            "duration_ms": round_to(self.duration_ms, 100),
            "error": self.error,
            "code": self.code,
        }


@dataclass(slots=True)
class Trace:
    id: str
    created: float  # unix seconds
    key_id: str | None = None
    name: str | None = None
    requested_model: str | None = None
    model: str | None = None  # who answered
    status: int = 0  # the HTTP status the caller got
    stream: bool = False
    latency_ms: float | None = None
    ttft_ms: float | None = None
    usage: dict[str, Any] | None = None
    cache_hit: bool | None = None  # None: the cache was not asked
    attempts: list[Attempt] = field(default_factory=list)
    contact: dict[str, Any] | None = None  # the request's contact/identity object, as sent
    contact_external_id: str | None = None  # from the body, or the X-ORQ-IDENTITY-ID header
    thread: dict[str, Any] | None = None  # {id, tags}
    metadata: dict[str, str] | None = None
    request: dict[str, Any] | None = None  # the caller's body (never credentials)
    response: dict[str, Any] | None = None  # the completion (accumulated for streams)
    error: dict[str, Any] | None = None  # the error body the caller got
    extra: dict[str, Any] = field(default_factory=dict)  # variables, retrieval, …
    # `response` as the JSON the caller was sent, when it was sent whole: stored as it is, so
    # the writer need not encode the completion a second time
    response_json: bytes | None = None
    # `request` and `usage` as JSON, once `compact()` has dropped the parsed objects
    request_json: bytes | None = None
    usage_json: bytes | None = None

    def compact(self) -> None:
        """Keep the request, the usage and a response sent whole only as JSON.

        A queued trace then holds a few bytes objects instead of the request's and the
        completion's parsed objects while it waits for the writer (a few hundred traces at a
        time): measured in the gateway, that retention cost the event loop more than the
        encoding does. Only a recorder that reads nothing else of the bodies calls it.
        """
        if self.response_json is not None:
            self.response = None
        try:
            if self.request is not None:
                self.request_json, self.request = orjson.dumps(self.request), None
            if self.usage is not None:
                self.usage_json, self.usage = orjson.dumps(self.usage), None
        except TypeError:  # not plain JSON: the writer encodes what is left as it always did
            return


class Recorder(Protocol):
    def record(self, trace: Trace) -> None:
        """Take a finished trace; must never block or raise on the hot path."""


class NullRecorder:
    """Used when nothing stores traces (tests of other parts, or tracing turned off)."""

    def record(self, trace: Trace) -> None:
        return None
