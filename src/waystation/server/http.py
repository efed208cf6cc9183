"""A thin layer over raw ASGI: read a bounded body, send JSON, send errors.

The chat route is the hot path, so the gateway speaks ASGI directly instead of going through a
framework's request objects and dependency injection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl

import orjson

from waystation.errors import GatewayError, InvalidRequest, PayloadTooLarge

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]


class ClientDisconnected(Exception):
    """The caller went away before we finished reading its request."""


@dataclass(slots=True)
class Request:
    scope: Scope
    receive: Receive
    send: Send
    request_id: str
    headers: dict[str, str]
    path: str
    method: str
    path_params: dict[str, str] = field(default_factory=dict)
    # filled in by handlers for the access log
    log: dict[str, Any] = field(default_factory=dict)
    status: int = 0
    started: bool = False

    @property
    def query(self) -> dict[str, str]:
        """Query parameters (the last value wins for a repeated name)."""
        raw = self.scope.get("query_string", b"").decode("latin-1")
        return dict(parse_qsl(raw, keep_blank_values=True)) if raw else {}

    @property
    def query_lists(self) -> dict[str, list[str]]:
        raw = self.scope.get("query_string", b"").decode("latin-1")
        return parse_qs(raw, keep_blank_values=True) if raw else {}

    async def body(self, limit: int) -> bytes:
        declared = self.headers.get("content-length")
        if declared is not None:
            try:
                if int(declared) > limit:
                    raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
            except ValueError:
                raise InvalidRequest("Content-Length is not a number.") from None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _base_headers(self, extra: list[tuple[bytes, bytes]] | None) -> list[tuple[bytes, bytes]]:
        headers = [(b"x-request-id", self.request_id.encode())]
        if extra:
            headers.extend(extra)
        return headers

    async def start(
        self, status: int, headers: list[tuple[bytes, bytes]], extra: list[tuple[bytes, bytes]]
        | None = None,
    ) -> None:
        self.status = status
        self.started = True
        await self.send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": headers + self._base_headers(extra),
            }
        )

    async def send_bytes(
        self,
        status: int,
        body: bytes,
        headers: list[tuple[bytes, bytes]] = JSON_HEADERS,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        await self.start(status, headers, extra)
        await self.send({"type": "http.response.body", "body": body})

    async def send_json(
        self, status: int, obj: Any, extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        await self.send_bytes(status, orjson.dumps(obj), JSON_HEADERS, extra)

    async def send_error(self, err: GatewayError) -> None:
        self.log.setdefault("error", err.code)
        extra = []
        retry_after = getattr(err, "retry_after", None)
        if err.status in (429, 503) and retry_after is not None:
            extra.append((b"retry-after", str(max(1, round(retry_after))).encode()))
        if "attempts" in self.log:
            extra.append((b"x-waystation-attempts", str(self.log["attempts"]).encode()))
        await self.send_json(err.status, err.body(), extra)


def header_map(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())}
