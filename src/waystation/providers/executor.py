"""The one place that sends: a pooled keep-alive HTTP client and transport-error mapping.

aiohttp sits behind this seam (chosen on the benchmark: it costs several times less CPU per
request than httpx here). Transport failures around the send *and* while reading a stream
become typed upstream errors, so callers never see a library's exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from yarl import URL

from waystation.errors import UpstreamConnectionError, UpstreamTimeout
from waystation.providers.base import WireRequest


@dataclass(slots=True)
class WireResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes


class WireStream:
    """An open upstream response whose body is read as it arrives."""

    def __init__(self, resp: aiohttp.ClientResponse, provider: str, idle_timeout: float) -> None:
        self._resp = resp
        self._provider = provider
        self._idle = idle_timeout
        self.status = resp.status
        self.headers: Mapping[str, str] = {k.lower(): v for k, v in resp.headers.items()}

    async def read_all(self) -> bytes:
        try:
            return await self._resp.read()  # bounded by the session's sock_read timeout
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _transport_error(exc, self._provider) from exc
        finally:
            self._resp.release()

    async def read_chunk(self, idle_timeout: float | None = None) -> bytes:
        """The next bytes of the answer as they arrive; b"" at the end.

        `idle_timeout` (a request's call timeout) bounds the wait when it is shorter than the
        gateway's own; an expired wait is an `UpstreamTimeout`.
        """
        try:
            if idle_timeout is None or idle_timeout >= self._idle:
                # the session's sock_read timeout bounds the wait: no timer of our own per read
                return await self._resp.content.readany()
            async with asyncio.timeout(idle_timeout):
                return await self._resp.content.readany()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _transport_error(exc, self._provider) from exc

    def close(self) -> None:
        """Abort the upstream request (client gone, or done reading)."""
        if not self._resp.closed:
            self._resp.close()


class Executor:
    def __init__(self, *, timeout: float) -> None:
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=0, limit_per_host=0, keepalive_timeout=60, ttl_dns_cache=300
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            # a provider's cookies (load-balancer affinity, bot checks) must not travel from one
            # caller's request to another's; no jar also skips its work on every request
            cookie_jar=aiohttp.DummyCookieJar(),
            # connect bounds reaching the provider; sock_read every wait for bytes from it (the
            # status line and headers included), so no request needs a timer of its own
            timeout=aiohttp.ClientTimeout(
                total=None, connect=min(self._timeout, 30.0), sock_read=self._timeout),
            skip_auto_headers=("User-Agent",),
            auto_decompress=True,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("Executor.start() was not awaited")
        return self._session

    async def send(self, wire: WireRequest, provider: str) -> WireResponse:
        stream = await self.open(wire, provider)
        body = await stream.read_all()
        return WireResponse(stream.status, stream.headers, body)

    async def open(self, wire: WireRequest, provider: str) -> WireStream:
        try:
            resp = await self.session.request(
                # sent exactly as encoded: a signed request (SigV4) must not be re-quoted
                wire.method, URL(wire.url, encoded=True), headers=dict(wire.headers),
                data=wire.body,
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise _transport_error(exc, provider) from exc
        return WireStream(resp, provider, self._timeout)


def _transport_error(
    exc: BaseException, provider: str
) -> UpstreamConnectionError | UpstreamTimeout:
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return UpstreamTimeout(f"{provider} did not answer in time", provider=provider)
    detail = str(exc) or type(exc).__name__
    return UpstreamConnectionError(f"cannot reach {provider}: {detail}", provider=provider)
