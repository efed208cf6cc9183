"""The one place that sends: a pooled keep-alive HTTP client and transport-error mapping.

The client is the gateway's own (`transport/http1.py`), chosen on the benchmark: a proxied
request costs about a third less CPU than through aiohttp (`bench/RESULTS.md`), which itself
cost several times less than httpx. Transport failures around the send *and* while reading a
stream become typed upstream errors, so callers never see a client's exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from waystation.errors import UpstreamConnectionError, UpstreamTimeout
from waystation.providers.base import WireRequest
from waystation.transport.http1 import Http1Client, HttpError, Response

# what the client raises when the provider cannot be reached, cuts off or does not answer
_TRANSPORT_FAILURES = (HttpError, TimeoutError, OSError)


@dataclass(slots=True)
class WireResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes


class WireStream:
    """An open upstream response whose body is read as it arrives."""

    __slots__ = ("_provider", "_resp", "headers", "status")

    def __init__(self, resp: Response, provider: str) -> None:
        self._resp = resp
        self._provider = provider
        self.status = resp.status
        self.headers: Mapping[str, str] = resp.headers  # names in lower case

    async def read_all(self) -> bytes:
        try:
            return await self._resp.read()  # each wait bounded by the client's read timeout
        except _TRANSPORT_FAILURES as exc:
            raise _transport_error(exc, self._provider) from exc

    async def read_chunk(self, idle_timeout: float | None = None) -> bytes:
        """The next bytes of the answer as they arrive; b"" at the end.

        `idle_timeout` (a request's call timeout) bounds the wait when it is shorter than the
        gateway's own; an expired wait is an `UpstreamTimeout`.
        """
        try:
            return await self._resp.read_chunk(idle_timeout)
        except _TRANSPORT_FAILURES as exc:
            raise _transport_error(exc, self._provider) from exc

    def close(self) -> None:
        """Stop reading (client gone, or done): an unfinished answer's connection is dropped."""
        self._resp.close()


class Executor:
    def __init__(self, *, timeout: float) -> None:
        self._timeout = timeout
        self._client: Http1Client | None = None

    async def start(self) -> None:
        # connect bounds reaching the provider; the read timeout every wait for bytes from it
        # (the status line and headers included), so no request needs a timer of its own
        self._client = Http1Client(
            connect_timeout=min(self._timeout, 30.0), read_timeout=self._timeout, keepalive=60.0)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def send(self, wire: WireRequest, provider: str) -> WireResponse:
        stream = await self.open(wire, provider)
        body = await stream.read_all()
        return WireResponse(stream.status, stream.headers, body)

    async def open(self, wire: WireRequest, provider: str) -> WireStream:
        client = self._client
        if client is None:
            raise RuntimeError("Executor.start() was not awaited")
        try:
            # sent exactly as encoded: a signed request (SigV4) must not be re-quoted
            resp = await client.request(wire.method, wire.url, wire.headers, wire.body)
        except _TRANSPORT_FAILURES as exc:
            raise _transport_error(exc, provider) from exc
        return WireStream(resp, provider)


def _transport_error(
    exc: BaseException, provider: str
) -> UpstreamConnectionError | UpstreamTimeout:
    if isinstance(exc, TimeoutError):
        return UpstreamTimeout(f"{provider} did not answer in time", provider=provider)
    detail = str(exc) or type(exc).__name__
    return UpstreamConnectionError(f"cannot reach {provider}: {detail}", provider=provider)
