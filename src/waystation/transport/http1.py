"""A pooled keep-alive HTTP/1.1 client on an asyncio Protocol, parsed by httptools.

Every upstream call the gateway makes has one shape: a request whose body is already bytes,
and an answer read whole or as it arrives. A general-purpose client spends a quarter of a
proxied request's CPU on layers this shape never uses (multidicts, URL objects, cookies,
redirects, tracing hooks, a stream reader per response). This client does only what the shape
needs, in one write and one parse per exchange:

- connections are pooled per origin (scheme, host, port), reused last-in first-out, and closed
  after `keepalive` seconds idle;
- a reused connection that the server closed before any byte of its answer (a keep-alive race)
  is retried once per such connection, then on a new one: nothing was answered, so nothing is
  repeated that the caller could see;
- `read_timeout` bounds every wait for bytes, the status line and headers included, so no
  request needs a timer of its own beyond the one for the wait in progress;
- gzip and deflate answers are decoded as they arrive; a reader that falls behind pauses the
  socket instead of buffering without bound;
- TLS comes from the standard library (`ssl.create_default_context()`, which honours
  SSL_CERT_FILE); no proxy is used, and no cookie is kept.

Failures are `TimeoutError` or `HttpError`; the executor maps them to the gateway's errors.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
import zlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httptools

_DEFAULT_PORT = {"http": 80, "https": 443}
_PAUSE_AT = 1 << 18  # bytes of unread answer after which the socket stops being read
_ACCEPT_ENCODING = "Accept-Encoding: gzip, deflate"


class HttpError(Exception):
    """The exchange failed below HTTP semantics: connect, TLS, a cut, or a malformed answer."""


class _Stale(HttpError):
    """A reused connection closed before any byte of the answer: safe to send again."""


_Origin = tuple[str, str, int]


@functools.lru_cache(maxsize=1024)
def _split(url: str) -> tuple[_Origin, str, str]:
    """The origin, the Host header and the request target, sent exactly as written."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORT:
        raise HttpError(f"unsupported URL scheme {parts.scheme!r} in {url!r}")
    host = parts.hostname
    if not host:
        raise HttpError(f"no host in URL {url!r}")
    try:
        port = parts.port or _DEFAULT_PORT[scheme]
    except ValueError as exc:
        raise HttpError(f"bad port in URL {url!r}") from exc
    name = f"[{host}]" if ":" in host else host
    host_header = name if port == _DEFAULT_PORT[scheme] else f"{name}:{port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return (scheme, host, port), host_header, target


def _head(method: str, target: str, host: str, headers: Mapping[str, str], length: int) -> bytes:
    lines = [f"{method} {target} HTTP/1.1"]
    given = set()
    for name, value in headers.items():
        lines.append(f"{name}: {value}")
        given.add(name.lower())
    if "host" not in given:
        lines.append(f"Host: {host}")
    if "content-length" not in given and (length or method not in ("GET", "HEAD")):
        lines.append(f"Content-Length: {length}")
    if "accept-encoding" not in given:
        lines.append(_ACCEPT_ENCODING)
    lines.append("\r\n")
    text = "\r\n".join(lines)
    # one line per header: a CR or LF inside a name or value would start a header of its own
    if text.count("\n") != len(lines) or text.count("\r") != len(lines):
        raise HttpError("a header name or value contains a line break")
    return text.encode()


class _Connection(asyncio.Protocol):
    """One socket and the exchange in progress on it; httptools calls back into it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.reused = False
        self.idle_since = 0.0
        self.busy = False
        self._begin()

    def _begin(self) -> None:
        self.status = 0
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self.head_done = False
        self.complete = False
        self.keep_alive = False
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.paused = False
        self.answered = False  # any byte of the answer arrived
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.length_known = False

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self.busy:
            # bytes nobody asked for: the connection's state is unknown, so it is not reused
            self.abort()
            return
        self.answered = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HttpError(f"malformed HTTP answer: {exc}"))
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.busy or self.complete:
            return
        if self.head_done and not self.length_known:
            # an answer without a length or chunking ends where the connection does
            self.complete = True
            self._wake()
        elif not self.answered:
            self._fail(self._closed_unanswered())
        else:
            detail = f": {exc}" if exc else ""
            self._fail(HttpError(f"the server closed the connection mid-answer{detail}"))

    # -- httptools callbacks -----------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            self.raw_headers = []  # an interim answer: the real one follows
            return
        self.status = status
        self.head_done = True
        for name, value in self.raw_headers:
            lower = name.lower()
            if lower == b"content-length" or (
                    lower == b"transfer-encoding" and b"chunked" in value.lower()):
                self.length_known = True
        if status in (204, 304):
            self.length_known = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > _PAUSE_AT and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if not self.head_done:
            return  # the end of an interim answer
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()
        self._wake()

    # -- used by the client and the response ---------------------------------------------------

    def _closed_unanswered(self) -> HttpError:
        """The server closed the connection before any byte of this answer: a reused one was
        stale (the client sends again), a new one is a failure."""
        if self.reused:
            return _Stale("the server closed a kept-alive connection")
        return HttpError("the server closed the connection before answering")

    def usable(self, idle_after: float) -> bool:
        """Open, and idle since `idle_after` (loop time) or later."""
        return not self.closed and self.idle_since > idle_after

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error
        self._wake()

    async def wait(self, timeout: float) -> None:
        """Until something arrives (bytes, the end, a failure), at most `timeout` seconds."""
        waiter = self.waiter = self.loop.create_future()
        timer = self.loop.call_later(timeout, _expire, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self.waiter = None

    async def exchange(self, payload: bytes, body: bytes, timeout: float) -> None:
        """Send one request and wait for its status line and headers."""
        self._begin()
        self.busy = True
        transport = self.transport
        if self.closed or transport is None or transport.is_closing():
            raise self._closed_unanswered()
        if len(body) < 65536:
            transport.write(payload + body)  # the usual request: one write, one segment
        else:
            transport.write(payload)  # a large body is not copied
            transport.write(body)
        while not self.head_done:
            if self.error is not None:
                raise self.error
            await self.wait(timeout)

    async def next_chunk(self, timeout: float) -> bytes:
        """The answer's next raw bytes; b"" once it is complete."""
        while True:
            chunks = self.chunks
            if chunks:
                data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                self.chunks = []
                self.buffered = 0
                if self.paused and self.transport is not None:
                    self.paused = False
                    self.transport.resume_reading()
                return data
            if self.complete:
                return b""
            if self.error is not None:
                raise self.error
            await self.wait(timeout)

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class Response:
    """An answer whose status and headers have arrived; the body is read through it."""

    __slots__ = (
        "_client",
        "_conn",
        "_decoder",
        "_done",
        "_origin",
        "_timeout",
        "headers",
        "status",
    )

    def __init__(self, client: Http1Client, origin: _Origin, conn: _Connection) -> None:
        self.status = conn.status
        headers: dict[str, str] = {}
        for name, value in conn.raw_headers:
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        self.headers = headers
        self._client = client
        self._origin = origin
        self._conn: _Connection | None = conn
        self._timeout = client.read_timeout
        self._done = False
        encoding = headers.get("content-encoding", "").strip().lower()
        self._decoder: Any = None
        if encoding in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._decoder = _Deflate()
        elif encoding not in ("", "identity"):
            conn.abort()
            self._conn = None
            raise HttpError(f"the answer is encoded with {encoding!r}, which was not asked for")

    async def read(self) -> bytes:
        """The whole body."""
        parts = []
        try:
            while data := await self.read_chunk():
                parts.append(data)
        finally:
            self.close()
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def read_chunk(self, timeout: float | None = None) -> bytes:
        """The body's next bytes as they arrive; b"" at the end.

        `timeout` bounds the wait when it is shorter than the client's read timeout.
        """
        conn = self._conn
        if conn is None:
            if self._done:
                return b""
            raise HttpError("the answer was closed before it was read")
        wait = self._timeout if timeout is None else min(timeout, self._timeout)
        while True:
            try:
                data = await conn.next_chunk(wait)
            except BaseException:
                self.close()
                raise
            if not data:
                tail = self._decoder.flush() if self._decoder is not None else b""
                self._finish(conn)
                return tail
            if self._decoder is None:
                return data
            try:
                data = self._decoder.decompress(data)
            except zlib.error as exc:
                self.close()
                raise HttpError(f"the answer's compressed body is corrupt: {exc}") from exc
            if data:
                return data

    def _finish(self, conn: _Connection) -> None:
        self._done = True
        self._conn = None
        self._client._release(self._origin, conn)

    def close(self) -> None:
        """Stop reading: a connection whose answer is not complete cannot be reused."""
        conn = self._conn
        if conn is None:
            return
        if conn.complete:
            # the whole answer is in: whatever was not read is dropped, the connection kept
            self._finish(conn)
            return
        self._conn = None
        conn.abort()


class _Deflate:
    """Deflate as servers send it: zlib-wrapped as the RFC says, or raw as some do."""

    def __init__(self) -> None:
        self._inner: Any = None

    def decompress(self, data: bytes) -> bytes:
        if self._inner is None:
            wrapped = (data[0] & 0x0F) == 8 if data else True
            self._inner = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        return bytes(self._inner.decompress(data))

    def flush(self) -> bytes:
        return bytes(self._inner.flush()) if self._inner is not None else b""


class Http1Client:
    """Connections pooled per origin; see the module's docstring for what it promises."""

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        keepalive: float = 60.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.keepalive = keepalive
        self._ssl = ssl_context
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False

    async def request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> Response:
        """Send one request; return once the answer's status line and headers are in."""
        if self._closed:
            raise HttpError("the client is closed")
        origin, host, target = _split(url)
        payload = _head(method, target, host, headers, len(body))
        while True:
            conn = self._take(origin)
            if conn is None:
                conn = await self._connect(origin)
            try:
                await conn.exchange(payload, body, self.read_timeout)
            except _Stale:
                conn.abort()  # only a reused connection goes stale: try the next, or a new one
                continue
            except BaseException:
                conn.abort()
                raise
            return Response(self, origin, conn)

    async def close(self) -> None:
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conns in self._idle.values():
            for conn in conns:
                conn.abort()
        self._idle.clear()

    def idle_connections(self) -> int:
        return sum(len(conns) for conns in self._idle.values())

    # -- the pool ---------------------------------------------------------------------------

    def _take(self, origin: _Origin) -> _Connection | None:
        conns = self._idle.get(origin)
        if not conns:
            return None
        oldest = asyncio.get_running_loop().time() - self.keepalive
        while conns:
            conn = conns.pop()
            if conn.usable(oldest):
                conn.reused = True
                return conn
            conn.abort()
        return None

    def _release(self, origin: _Origin, conn: _Connection) -> None:
        conn.busy = False
        if conn.paused and conn.transport is not None:
            conn.paused = False
            conn.transport.resume_reading()
        if self._closed or conn.closed or not conn.keep_alive or conn.error is not None:
            conn.abort()
            return
        conn.idle_since = conn.loop.time()
        self._idle.setdefault(origin, []).append(conn)
        if self._sweeper is None:
            self._sweeper = conn.loop.call_later(self.keepalive, self._sweep)

    def _sweep(self) -> None:
        """Close connections idle past the keep-alive time, so none lingers unused."""
        self._sweeper = None
        loop = asyncio.get_running_loop()
        oldest = loop.time() - self.keepalive
        for origin, conns in list(self._idle.items()):
            keep = []
            for conn in conns:
                if conn.usable(oldest):
                    keep.append(conn)
                else:
                    conn.abort()
            if keep:
                self._idle[origin] = keep
            else:
                del self._idle[origin]
        if self._idle:
            self._sweeper = loop.call_later(self.keepalive, self._sweep)

    async def _connect(self, origin: _Origin) -> _Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        tls: ssl.SSLContext | None = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            tls = self._ssl
        try:
            async with asyncio.timeout(self.connect_timeout):
                transport, conn = await loop.create_connection(
                    lambda: _Connection(loop), host, port, ssl=tls,
                    server_hostname=host if tls is not None else None)
        except TimeoutError:
            raise  # an OSError too, but the executor maps it to a timeout
        except OSError as exc:
            detail = exc.strerror or str(exc) or type(exc).__name__
            raise HttpError(f"cannot connect to {host}:{port}: {detail}") from exc
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn
