"""The upstream HTTP/1.1 client against scripted servers on the loopback interface.

Each server here writes exact bytes, so the cases a general server would never produce (a
kept-alive connection closed under the client, a body without a length, raw deflate, an
interim answer) are driven for real over TCP.
"""

from __future__ import annotations

import asyncio
import gzip
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
import trustme

from waystation.transport.http1 import Http1Client, HttpError

Handler = Callable[["Exchange"], Awaitable[None]]


@dataclass
class Exchange:
    """One request as the server read it, and the stream to answer on."""

    head: bytes
    body: bytes
    connection: int
    writer: asyncio.StreamWriter

    def answer(self, data: bytes) -> None:
        self.writer.write(data)


@dataclass
class Server:
    url: str
    connections: int = 0
    exchanges: list[Exchange] = field(default_factory=list)


async def _read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head, await reader.readexactly(length)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[Server]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler, tls: ssl.SSLContext | None = None) -> Server:
        state = Server(url="")

        async def on_connection(reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter) -> None:
            state.connections += 1
            number = state.connections
            try:
                while (request := await _read_request(reader)) is not None:
                    exchange = Exchange(request[0], request[1], number, writer)
                    state.exchanges.append(exchange)
                    await handler(exchange)
                    if writer.is_closing():
                        break
                    await writer.drain()
            except ConnectionError:
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(on_connection, "127.0.0.1", 0, ssl=tls)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        state.url = f"{'https' if tls else 'http'}://localhost:{port}"
        return state

    yield start
    for server in servers:
        server.close()


@pytest.fixture
async def client() -> AsyncIterator[Http1Client]:
    c = Http1Client(connect_timeout=2.0, read_timeout=2.0)
    yield c
    await c.close()


def ok(body: bytes = b'{"ok":true}', *headers: str) -> bytes:
    extra = "".join(f"{h}\r\n" for h in headers)
    return (f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n").encode() + body


async def test_a_request_goes_out_exactly_as_encoded_and_the_connection_is_kept(
        serve: Callable[..., Awaitable[Server]], client: Http1Client) -> None:
    async def handler(x: Exchange) -> None:
        x.answer(ok(b'{"n":%d}' % len(server.exchanges), "X-Seen: a", "x-seen: b"))

    server = await serve(handler)
    path = "/model/arn%3Aaws%3Abedrock/a:b/converse?x=1%2F2"
    for n in (1, 2, 3):
        resp = await client.request("POST", server.url + path,
                                    {"Content-Type": "application/json"}, b'{"q":1}')
        assert resp.status == 200
        assert resp.headers["x-seen"] == "a, b"
        assert await resp.read() == b'{"n":%d}' % n
    assert server.connections == 1 and client.idle_connections() == 1
    lines = server.exchanges[0].head.decode().split("\r\n")
    assert lines[0] == f"POST {path} HTTP/1.1"
    port = server.url.rsplit(":", 1)[1]
    assert {"Content-Type: application/json", f"Host: localhost:{port}", "Content-Length: 7",
            "Accept-Encoding: gzip, deflate"} <= set(lines[1:])
    assert server.exchanges[0].body == b'{"q":1}'


async def test_a_host_header_given_by_the_caller_is_sent_instead_of_ours(
        serve: Callable[..., Awaitable[Server]], client: Http1Client) -> None:
    async def handler(x: Exchange) -> None:
        x.answer(ok())

    server = await serve(handler)
    resp = await client.request("POST", server.url + "/", {"host": "signed.example"}, b"{}")
    await resp.read()
    head = server.exchanges[0].head.decode().lower()
    assert head.count("host:") == 1 and "host: signed.example" in head


async def test_a_line_break_in_a_header_is_refused_before_anything_is_sent(
        serve: Callable[..., Awaitable[Server]], client: Http1Client) -> None:
    async def handler(x: Exchange) -> None:
        x.answer(ok())

    server = await serve(handler)
    with pytest.raises(HttpError, match="line break"):
        await client.request("POST", server.url + "/", {"X-A": "1\r\nX-Injected: 2"}, b"{}")
    assert server.connections == 0


async def test_a_chunked_stream_is_read_as_it_arrives(
        serve: Callable[..., Awaitable[Server]], client: Http1Client) -> None:
    go_on = asyncio.Event()

    async def handler(x: Exchange) -> None:
        x.answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await x.writer.drain()
        await go_on.wait()
        x.answer(b"6\r\nsecond\r\n0\r\n\r\n")

    server = await serve(handler)
    resp = await client.request("POST", server.url + "/stream", {}, b"{}")
    assert await resp.read_chunk() == b"first"  # before the rest was even written
    go_on.set()
    assert await resp.read_chunk() == b"second"
    assert await resp.read_chunk() == b""
    assert client.idle_connections() == 1


async def test_an_answer_without_a_length_ends_with_its_connection(
        serve: Callable[..., Awaitable[Server]], client: Http1Client) -> None:
    async def handler(x: Exchange) -> None:
        x.answer(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it")
        await x.writer.drain()
        x.writer.close()

    server = await serve(handler)
    resp = await client.request("GET", server.url + "/", {})
    assert await resp.read() == b"all of it"
    assert client.idle_connections() == 0


@pytest.mark.parametrize("encoding, encode", [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some servers send it
])
async def test_compressed_answers_are_decoded(
        serve: Callable[..., Awaitable[Server]], client: Http1Client,
        encoding: str, encode: Callable[[bytes], bytes]) -> None:
    text = b'{"content":"' + b"word " * 2000 + b'"}'

    async def handler(x: Exchange) -> None:
        x.answer(ok(encode(text), f"Content-Encoding: {encoding}"))

    server = await serve(handler)
    resp = await client.request("POST", server.url + "/", {}, b"{}")
    assert await resp.read() == text


async def test_an_encoding_that_was_not_asked_for_is_an_error(
        serve: Callable[..., Awaitable[Server]], client: Http1Client) -> None:
    async def handler(x: Exchange) -> None:
        x.answer(ok(b"????", "Content-Encoding: br"))

    server = await serve(handler)
    with pytest.raises(HttpError, match="'br'"):
        await client.request("POST", server.url + "/", {}, b"{}")


async def test_a_kept_connection_the_server_closed_is_replaced_without_an_error(
        serve: Callable[..., Awaitable[Server]], client: Http1Client) -> None:
    async def handler(x: Exchange) -> None:
        x.answer(ok())  # says nothing of closing, then closes: the keep-alive race
        await x.writer.drain()
        x.writer.close()

    server = await serve(handler)
    for _ in range(3):
        resp = await client.request("POST", server.url + "/", {}, b"{}")
        assert await resp.read() == b'{"ok":true}'
        await asyncio.sleep(0.05)
    assert server.connections == 3 and len(server.exchanges) == 3


async def test_a_kept_connection_cut_as_the_request_arrives_is_retried_once(
        serve: Callable[..., Awaitable[Server]], client: Http1Client) -> None:
    async def handler(x: Exchange) -> None:
        if x.connection == 1 and len(server.exchanges) == 2:
            x.writer.transport.abort()  # read the second request, closed without answering
            return
        x.answer(ok())

    server = await serve(handler)
    for _ in range(2):
        resp = await client.request("POST", server.url + "/", {}, b"{}")
        assert resp.status == 200
        await resp.read()
    assert server.connections == 2 and len(server.exchanges) == 3


async def test_a_new_connection_closed_without_an_answer_is_an_error(
        serve: Callable[..., Awaitable[Server]], client: Http1Client) -> None:
    async def handler(x: Exchange) -> None:
        x.writer.transport.abort()

    server = await serve(handler)
    with pytest.raises(HttpError, match="before answering"):
        await client.request("POST", server.url + "/", {}, b"{}")
    assert server.connections == 1


async def test_a_cut_mid_answer_is_an_error_not_a_short_body(
        serve: Callable[..., Awaitable[Server]], client: Http1Client) -> None:
    async def handler(x: Exchange) -> None:
        x.answer(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await x.writer.drain()
        x.writer.transport.abort()

    server = await serve(handler)
    resp = await client.request("POST", server.url + "/", {}, b"{}")
    with pytest.raises(HttpError, match="mid-answer"):
        await resp.read()


async def test_every_wait_for_bytes_is_bounded(
        serve: Callable[..., Awaitable[Server]]) -> None:
    async def handler(x: Exchange) -> None:
        if x.head.startswith(b"POST /slow-head"):
            await asyncio.sleep(5)
        x.answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n")
        await x.writer.drain()
        await asyncio.sleep(5)

    server = await serve(handler)
    client = Http1Client(connect_timeout=1.0, read_timeout=0.3)
    try:
        with pytest.raises(TimeoutError):
            await client.request("POST", server.url + "/slow-head", {}, b"{}")
        resp = await client.request("POST", server.url + "/slow-body", {}, b"{}")
        assert await resp.read_chunk() == b"a"
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TimeoutError):
            await resp.read_chunk(timeout=0.05)  # a shorter bound of the caller's wins
        assert loop.time() - started < 0.25
        assert client.idle_connections() == 0  # an unfinished answer's connection is dropped
    finally:
        await client.close()


async def test_an_unreachable_server_is_a_connect_error(client: Http1Client) -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    with pytest.raises(HttpError, match=f"cannot connect to 127.0.0.1:{port}"):
        await client.request("POST", f"http://127.0.0.1:{port}/", {}, b"{}")


async def test_an_answer_closed_unread_frees_its_connection_only_when_complete(
        serve: Callable[..., Awaitable[Server]], client: Http1Client) -> None:
    async def handler(x: Exchange) -> None:
        if x.head.startswith(b"POST /open"):
            x.answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n")
        else:
            x.answer(ok())

    server = await serve(handler)
    resp = await client.request("POST", server.url + "/whole", {}, b"{}")
    await asyncio.sleep(0.05)  # the body is in, nobody reads it
    resp.close()
    assert client.idle_connections() == 1
    resp = await client.request("POST", server.url + "/open", {}, b"{}")
    resp.close()
    assert client.idle_connections() == 0
    assert server.connections == 1


async def test_an_interim_answer_is_skipped(
        serve: Callable[..., Awaitable[Server]], client: Http1Client) -> None:
    async def handler(x: Exchange) -> None:
        x.answer(b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"done"))

    server = await serve(handler)
    resp = await client.request("POST", server.url + "/", {}, b"{}")
    assert resp.status == 200 and await resp.read() == b"done"


async def test_a_large_answer_read_slowly_arrives_whole(
        serve: Callable[..., Awaitable[Server]], client: Http1Client) -> None:
    blob = bytes(range(256)) * 16384  # 4 MiB: past the point where the socket is paused

    async def handler(x: Exchange) -> None:
        x.answer(ok(blob))

    server = await serve(handler)
    resp = await client.request("POST", server.url + "/", {}, b"{}")
    await asyncio.sleep(0.2)
    parts = []
    while data := await resp.read_chunk():
        parts.append(data)
        await asyncio.sleep(0)
    assert b"".join(parts) == blob
    resp = await client.request("POST", server.url + "/", {}, b"{}")  # kept, and readable
    assert len(await resp.read()) == len(blob) and server.connections == 1


async def test_idle_connections_are_closed_after_the_keepalive_time(
        serve: Callable[..., Awaitable[Server]]) -> None:
    async def handler(x: Exchange) -> None:
        x.answer(ok())

    server = await serve(handler)
    client = Http1Client(connect_timeout=1.0, read_timeout=1.0, keepalive=0.1)
    try:
        await (await client.request("POST", server.url + "/", {}, b"{}")).read()
        assert client.idle_connections() == 1
        await asyncio.sleep(0.35)
        assert client.idle_connections() == 0
        await (await client.request("POST", server.url + "/", {}, b"{}")).read()
        assert server.connections == 2
    finally:
        await client.close()


async def test_tls_is_verified(serve: Callable[..., Awaitable[Server]]) -> None:
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_tls)

    async def handler(x: Exchange) -> None:
        x.answer(ok(b"secret"))

    server = await serve(handler, tls=server_tls)
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    client = Http1Client(connect_timeout=2.0, read_timeout=2.0, ssl_context=trusting)
    stranger = Http1Client(connect_timeout=2.0, read_timeout=2.0)  # the system's trust only
    try:
        resp = await client.request("POST", server.url + "/", {}, b"{}")
        assert await resp.read() == b"secret"
        with pytest.raises(HttpError, match="certificate"):
            await stranger.request("POST", server.url + "/", {}, b"{}")
    finally:
        await client.close()
        await stranger.close()


@pytest.mark.parametrize("url, message", [
    ("ftp://example.com/x", "unsupported URL scheme"),
    ("http:///nohost", "no host"),
    ("http://example.com:99999/", "bad port"),
])
async def test_a_url_it_cannot_send_to_is_an_error(
        client: Http1Client, url: str, message: str) -> None:
    with pytest.raises(HttpError, match=message):
        await client.request("POST", url, {}, b"{}")


async def test_bytes_that_arrived_before_a_cut_are_read_before_the_error(
        serve: Callable[..., Awaitable[Server]], client: Http1Client) -> None:
    async def handler(x: Exchange) -> None:
        x.answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"6\r\nevent1\r\n6\r\nevent2\r\n")
        await x.writer.drain()
        await asyncio.sleep(0.05)
        x.writer.transport.abort()

    server = await serve(handler)
    resp = await client.request("POST", server.url + "/stream", {}, b"{}")
    await asyncio.sleep(0.2)  # the cut has happened before anything is read
    assert await resp.read_chunk() == b"event1event2"
    with pytest.raises(HttpError, match="mid-answer"):
        await resp.read_chunk()


async def test_a_large_request_body_arrives_whole(
        serve: Callable[..., Awaitable[Server]], client: Http1Client) -> None:
    async def handler(x: Exchange) -> None:
        x.answer(ok(b"%d" % len(x.body)))

    server = await serve(handler)
    body = b"x" * 3_000_000  # sent as a write of its own after the head
    resp = await client.request("POST", server.url + "/", {}, body)
    assert await resp.read() == b"3000000"
    assert server.exchanges[0].body == body


async def test_a_request_cancelled_while_waiting_drops_its_connection(
        serve: Callable[..., Awaitable[Server]], client: Http1Client) -> None:
    async def handler(x: Exchange) -> None:
        if x.head.startswith(b"POST /slow"):
            await asyncio.sleep(5)
        x.answer(ok())

    server = await serve(handler)
    await (await client.request("POST", server.url + "/fast", {}, b"{}")).read()
    task = asyncio.create_task(client.request("POST", server.url + "/slow", {}, b"{}"))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # its connection, now in an unknown state, was not put back: the next request opens one
    assert client.idle_connections() == 0
    await (await client.request("POST", server.url + "/fast", {}, b"{}")).read()
    assert server.connections == 2
