"""A fast fake OpenAI-compatible upstream for the benchmark.

One asyncio Protocol (uvloop when installed) speaking just enough HTTP/1.1 with keep-alive:

- `POST /v1/chat/completions`: a fixed `chat.completion` body, or with `"stream": true` an SSE
  stream (role chunk, N content chunks, finish chunk, usage chunk when
  `stream_options.include_usage` is set, `data: [DONE]`) in chunked transfer encoding.
- `GET /v1/models`, `GET /health`, `GET /mock/stats` (request counters as JSON).

With no delays a whole reply goes out in one write, so the mock costs a few microseconds per
request and the direct baseline measures the load tool and the loopback, nothing else.

    python bench/mock_upstream.py --port 18000 --stream-chunks 20 --latency-ms 0
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

try:
    import orjson

    _loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # the mock runs without orjson too
    _loads = json.loads

REPLY_TEXT = (
    "The quick brown fox jumps over the lazy dog while a small gateway forwards every word "
    "from the client to the model and back again without adding anything but a little time; "
    "this sentence exists only to give the benchmark a reply of realistic size with sixty "
    "words in it, counted roughly, so the numbers mean something."
)
CREATED = 1_700_000_000
COMPLETION_ID = "chatcmpl-bench0000000000000000"
FINGERPRINT = "fp_bench"
PROMPT_TOKENS = 24
COMPLETION_TOKENS = 60


def _usage() -> dict[str, Any]:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def completion_body(model: str) -> bytes:
    body = {
        "id": COMPLETION_ID,
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "service_tier": "default",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": REPLY_TEXT,
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": _usage(),
    }
    return json.dumps(body, separators=(",", ":")).encode()


def split_text(text: str, parts: int) -> list[str]:
    """Cut `text` into `parts` pieces on word boundaries (pieces keep their spaces)."""
    words = text.split(" ")
    parts = max(1, min(parts, len(words)))
    out: list[str] = []
    per, extra = divmod(len(words), parts)
    i = 0
    for n in range(parts):
        take = per + (1 if n < extra else 0)
        piece = " ".join(words[i : i + take])
        out.append(piece if n == parts - 1 else piece + " ")
        i += take
    return out


def stream_events(model: str, chunks: int, include_usage: bool) -> list[bytes]:
    """The SSE events of one streamed reply, each a complete `data: ...\\n\\n` frame."""

    def chunk(delta: dict[str, Any], finish: str | None, usage: Any = None) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": COMPLETION_ID,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "system_fingerprint": FINGERPRINT,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            obj["usage"] = usage
        return obj

    objs = [chunk({"role": "assistant", "content": "", "refusal": None}, None)]
    objs += [chunk({"content": piece}, None) for piece in split_text(REPLY_TEXT, chunks)]
    objs.append(chunk({}, "stop"))
    if include_usage:
        tail = chunk({}, None, _usage())
        tail["choices"] = []
        objs.append(tail)
    events = [b"data: " + json.dumps(o, separators=(",", ":")).encode() + b"\n\n" for o in objs]
    events.append(b"data: [DONE]\n\n")
    return events


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _response(status: str, body: bytes, ctype: bytes = b"application/json") -> bytes:
    return (
        b"HTTP/1.1 " + status.encode() + b"\r\ncontent-type: " + ctype
        + b"\r\ncontent-length: " + str(len(body)).encode()
        + b"\r\nconnection: keep-alive\r\n\r\n" + body
    )


STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
    b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n"
)
CHUNKED_END = b"0\r\n\r\n"


class Mock:
    """Settings, cached replies and counters shared by all connections."""

    def __init__(self, latency_ms: float, stream_chunks: int, chunk_delay_ms: float) -> None:
        self.latency = latency_ms / 1000.0
        self.chunk_delay = chunk_delay_ms / 1000.0
        self.stream_chunks = stream_chunks
        self.stats = {"requests": 0, "completions": 0, "streams": 0, "bad_requests": 0}
        self._plain: dict[str, bytes] = {}
        self._streams: dict[tuple[str, bool], list[bytes]] = {}

    def plain(self, model: str) -> bytes:
        reply = self._plain.get(model)
        if reply is None:
            reply = self._plain[model] = _response("200 OK", completion_body(model))
        return reply

    def stream(self, model: str, include_usage: bool) -> list[bytes]:
        key = (model, include_usage)
        events = self._streams.get(key)
        if events is None:
            events = self._streams[key] = stream_events(model, self.stream_chunks, include_usage)
        return events

    def stream_in_one_write(self, model: str, include_usage: bool) -> bytes:
        key = ("\0one\0" + model, include_usage)
        cached = self._streams.get(key)
        if cached is None:
            events = self.stream(model, include_usage)
            cached = self._streams[key] = [
                STREAM_HEAD + _chunked(b"".join(events)) + CHUNKED_END
            ]
        return cached[0]


class HTTPConnection(asyncio.Protocol):
    """Parses pipelined HTTP/1.1 requests (Content-Length or chunked bodies) and answers them."""

    def __init__(self, mock: Mock) -> None:
        self.mock = mock
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.busy = False  # a delayed reply is being written; later requests wait in buf
        self.pending: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf = self.buf + data if self.buf else data
        if not self.busy:
            self._drain_requests()

    def _drain_requests(self) -> None:
        while self.buf and not self.busy and self.transport is not None:
            parsed = self._parse_one()
            if parsed is None:
                return
            method, path, body = parsed
            self._handle(method, path, body)

    def _parse_one(self) -> tuple[str, str, bytes] | None:
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = buf[:end].decode("latin-1")
        lines = head.split("\r\n")
        try:
            method, target, _ = lines[0].split(" ", 2)
        except ValueError:
            self._fail()
            return None
        length = 0
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            lname = name.strip().lower()
            if lname == "content-length":
                length = int(value.strip())
            elif lname == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        start = end + 4
        if chunked:
            decoded = _dechunk(buf, start)
            if decoded is None:
                return None
            body, consumed = decoded
            self.buf = buf[consumed:]
        else:
            if len(buf) - start < length:
                return None
            body = buf[start : start + length]
            self.buf = buf[start + length :]
        return method, target.split("?", 1)[0], body

    def _fail(self) -> None:
        self.mock.stats["bad_requests"] += 1
        if self.transport is not None:
            self.transport.write(_response("400 Bad Request", b'{"error":"bad request"}'))
            self.transport.close()
        self.buf = b""

    def _handle(self, method: str, path: str, body: bytes) -> None:
        mock = self.mock
        mock.stats["requests"] += 1
        assert self.transport is not None
        if method == "POST" and path.endswith("/chat/completions"):
            try:
                req = _loads(body)
                model = str(req.get("model") or "gpt-4o-mini")
                stream = bool(req.get("stream"))
                opts = req.get("stream_options") or {}
                include_usage = bool(opts.get("include_usage"))
            except Exception:
                mock.stats["bad_requests"] += 1
                self.transport.write(_response("400 Bad Request", b'{"error":"bad json"}'))
                return
            if stream:
                mock.stats["streams"] += 1
                if mock.latency or mock.chunk_delay:
                    self.busy = True
                    self.pending = asyncio.ensure_future(self._slow_stream(model, include_usage))
                else:
                    self.transport.write(mock.stream_in_one_write(model, include_usage))
            else:
                mock.stats["completions"] += 1
                if mock.latency:
                    self.busy = True
                    self.pending = asyncio.ensure_future(self._slow_plain(model))
                else:
                    self.transport.write(mock.plain(model))
        elif method == "GET" and path.endswith("/models"):
            self.transport.write(
                _response("200 OK", b'{"object":"list","data":[{"id":"gpt-4o-mini",'
                          b'"object":"model","created":1700000000,"owned_by":"bench"}]}')
            )
        elif method == "GET" and path == "/health":
            self.transport.write(_response("200 OK", b'{"status":"ok"}'))
        elif method == "GET" and path == "/mock/stats":
            self.transport.write(_response("200 OK", json.dumps(mock.stats).encode()))
        else:
            self.transport.write(_response("404 Not Found", b'{"error":"not found"}'))

    async def _slow_plain(self, model: str) -> None:
        await asyncio.sleep(self.mock.latency)
        if self.transport is not None:
            self.transport.write(self.mock.plain(model))
        self._resume()

    async def _slow_stream(self, model: str, include_usage: bool) -> None:
        mock = self.mock
        events = mock.stream(model, include_usage)
        if mock.latency:
            await asyncio.sleep(mock.latency)
        if self.transport is None:
            return
        self.transport.write(STREAM_HEAD + _chunked(events[0]))
        for event in events[1:]:
            if mock.chunk_delay:
                await asyncio.sleep(mock.chunk_delay)
            if self.transport is None:
                return
            self.transport.write(_chunked(event))
        self.transport.write(CHUNKED_END)
        self._resume()

    def _resume(self) -> None:
        self.busy = False
        if self.buf:
            self._drain_requests()


def _dechunk(buf: bytes, pos: int) -> tuple[bytes, int] | None:
    """A complete chunked body starting at `pos`: (body, index after it), or None if partial."""
    parts: list[bytes] = []
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(buf[pos:eol].split(b";", 1)[0], 16)
        pos = eol + 2
        if size == 0:
            trailer_end = buf.find(b"\r\n", pos)
            if trailer_end < 0:
                return None
            # no trailers expected; skip any up to the blank line
            while trailer_end != pos:
                pos = trailer_end + 2
                trailer_end = buf.find(b"\r\n", pos)
                if trailer_end < 0:
                    return None
            return b"".join(parts), pos + 2
        if len(buf) < pos + size + 2:
            return None
        parts.append(buf[pos : pos + size])
        pos += size + 2


def _install_uvloop() -> str:
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


async def serve(host: str, port: int, mock: Mock, ready: Callable[[int], None]) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: HTTPConnection(mock), host, port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    ready(bound)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    env = os.environ
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=int(env.get("MOCK_PORT", "18000")),
                   help="0 picks a free port (printed on stdout as 'listening PORT')")
    p.add_argument("--latency-ms", type=float, default=float(env.get("MOCK_LATENCY_MS", "0")),
                   help="delay before the reply / the first streamed event")
    p.add_argument("--stream-chunks", type=int,
                   default=int(env.get("MOCK_STREAM_CHUNKS", "20")),
                   help="content chunks per streamed reply")
    p.add_argument("--chunk-delay-ms", type=float,
                   default=float(env.get("MOCK_CHUNK_DELAY_MS", "0")),
                   help="delay between streamed events")
    args = p.parse_args(argv)
    loop_kind = _install_uvloop()
    mock = Mock(args.latency_ms, args.stream_chunks, args.chunk_delay_ms)

    def ready(port: int) -> None:
        print(f"listening {port} ({loop_kind})", flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, mock, ready))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
