"""Closed-loop HTTP/1.1 load generator for chat completions, streamed or not.

`--conc N` keep-alive connections each keep exactly one request in flight: send, read the whole
reply, send the next. For every reply completed inside the measured window it records

- latency ("total"): request written → last byte of the reply;
- TTFB (streams): request written → first byte of the first `data:` event of the body (response
  headers alone do not count);

and counts as errors: non-2xx replies, streams that end without `data: [DONE]`, timeouts and
connection failures. Prints one JSON object on stdout. `--requests N` stops after N measured
requests instead of after `--duration` (which then only caps the time, if given).

    python bench/loadgen.py --url http://127.0.0.1:8000/v1/chat/completions \\
        --model openai/gpt-4o-mini --stream --conc 64 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import socket
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

now = time.perf_counter


def chat_body(
    model: str, stream: bool, max_tokens: int = 256, extra: dict[str, Any] | None = None
) -> bytes:
    body: dict[str, Any] = {
        "model": model,
        "messages": [
            {"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": "Say something about gateways in sixty words."},
        ],
        "max_tokens": max_tokens,
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    body.update(extra or {})
    return json.dumps(body, separators=(",", ":")).encode()


def build_request(url: str, body: bytes, headers: list[tuple[str, str]]) -> bytes:
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class ReplyError(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


# Incremental response parser states
_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_CRLF, _TRAILER = range(6)


class Conn(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self, stream: bool, keep_body: bool = False) -> None:
        self.stream = stream
        self.keep_body = keep_body
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self.waiter: asyncio.Future[tuple[int, float, float, bytes]] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self._reset()

    def _reset(self) -> None:
        self.state = _HEAD
        self.buf = b""
        self.status = 0
        self.remaining = 0
        self.sent = 0.0
        self.ttfb = 0.0
        self.tail = b""
        self.saw_done = False
        self.close_after = False
        self.body: list[bytes] = []

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.closed.done():
            self.closed.set_result(None)
        self._finish_error("connection_closed")

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:
            return
        t = now()
        try:
            self._feed(data, t)
        except (ValueError, IndexError):
            self._finish_error("bad_reply")
            if self.transport is not None:
                self.transport.close()

    # requests
    def request(self, payload: bytes, timeout: float) -> asyncio.Future[Any]:
        assert self.transport is not None and self.waiter is None
        self._reset()
        loop = asyncio.get_running_loop()
        self.waiter = loop.create_future()
        self.timer = loop.call_later(timeout, self._timed_out)
        self.sent = now()
        self.transport.write(payload)
        return self.waiter

    def _timed_out(self) -> None:
        self.timer = None
        self._finish_error("timeout")
        if self.transport is not None:
            self.transport.abort()

    def _finish_error(self, kind: str) -> None:
        waiter, self.waiter = self.waiter, None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(ReplyError(kind))

    def _finish(self, t: float) -> None:
        waiter, self.waiter = self.waiter, None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.close_after and self.transport is not None:
            self.transport.close()
        if waiter is not None and not waiter.done():
            if not 200 <= self.status < 300:
                waiter.set_exception(ReplyError(f"status_{self.status}"))
            elif self.stream and not self.saw_done:
                waiter.set_exception(ReplyError("no_done"))
            else:
                body = b"".join(self.body)
                waiter.set_result((self.status, self.ttfb - self.sent, t - self.sent, body))

    def _on_body(self, piece: bytes, t: float) -> None:
        if self.keep_body:
            self.body.append(piece)
        if self.stream:
            window = self.tail + piece
            if not self.ttfb and b"data:" in window:
                self.ttfb = t
            if b"[DONE]" in window:
                self.saw_done = True
            self.tail = window[-8:]
        elif not self.ttfb:
            self.ttfb = t

    def _feed(self, data: bytes, t: float) -> None:
        buf = self.buf + data if self.buf else data
        self.buf = b""
        pos = 0
        n = len(buf)
        while self.waiter is not None:
            st = self.state
            if st == _HEAD:
                end = buf.find(b"\r\n\r\n", pos)
                if end < 0:
                    self.buf = buf[pos:]
                    return
                self._parse_head(buf[pos:end])
                pos = end + 4
                if self.state == _LENGTH and self.remaining == 0:
                    self._finish(t)
                    return
            elif st == _LENGTH:
                take = min(self.remaining, n - pos)
                if take:
                    self._on_body(buf[pos : pos + take], t)
                pos += take
                self.remaining -= take
                if self.remaining == 0:
                    self._finish(t)
                    return
                return
            elif st == _CHUNK_SIZE:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    self.buf = buf[pos:]
                    return
                size = int(buf[pos:eol].split(b";", 1)[0], 16)
                pos = eol + 2
                if size == 0:
                    self.state = _TRAILER
                else:
                    self.remaining = size
                    self.state = _CHUNK_DATA
            elif st == _CHUNK_DATA:
                take = min(self.remaining, n - pos)
                if take == 0:
                    return
                self._on_body(buf[pos : pos + take], t)
                pos += take
                self.remaining -= take
                if self.remaining == 0:
                    self.state = _CHUNK_CRLF
                    self.remaining = 2
            elif st == _CHUNK_CRLF:
                take = min(self.remaining, n - pos)
                if take == 0:
                    return
                pos += take
                self.remaining -= take
                if self.remaining == 0:
                    self.state = _CHUNK_SIZE
            else:  # _TRAILER: lines until an empty one
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    self.buf = buf[pos:]
                    return
                empty = eol == pos
                pos = eol + 2
                if empty:
                    self._finish(t)
                    return

    def _parse_head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        self.status = int(lines[0].split(b" ", 2)[1])
        length = 0
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                self.close_after = b"close" in value.lower()
        if chunked:
            self.state = _CHUNK_SIZE
        else:
            self.state = _LENGTH
            self.remaining = length


def percentiles(values: list[float], scale: float = 1000.0) -> dict[str, float]:
    if not values:
        return {}
    s = sorted(values)
    n = len(s)

    def pct(p: float) -> float:
        return round(s[min(n - 1, max(0, round(p / 100.0 * n + 0.5) - 1))] * scale, 4)

    return {
        "p50": pct(50),
        "p90": pct(90),
        "p99": pct(99),
        "max": round(s[-1] * scale, 4),
        "mean": round(sum(s) / n * scale, 4),
    }


async def run_load(
    url: str,
    payload: bytes,
    *,
    stream: bool,
    conc: int,
    duration: float,
    warmup: float = 0.0,
    timeout: float = 30.0,
    slow_ms: float | None = None,
    requests: int | None = None,
    every: int = 0,
    on_every: Callable[[int], Any] | None = None,
) -> dict[str, Any]:
    """Closed-loop load for `duration` seconds after `warmup`, or until `requests` measured
    requests were sent and answered (then `duration` may be `math.inf`). `on_every(n)` is called
    each time `n`, the count of measured replies (errors included), reaches a multiple of `every`.
    """
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 80
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    ttfbs: list[float] = []
    errors: dict[str, int] = {}
    slow: list[tuple[float, float]] = []
    slow_s = slow_ms / 1000.0 if slow_ms is not None else None
    start = now()
    t_measure = start + warmup
    t_stop = t_measure + duration
    issued = 0  # measured requests sent (with `requests`)
    answered = 0  # measured replies, errors included

    def count_reply() -> None:
        nonlocal answered
        answered += 1
        if every and on_every is not None and answered % every == 0:
            on_every(answered)

    async def connect() -> Conn:
        _, proto = await loop.create_connection(lambda: Conn(stream), host, port)
        return proto

    async def worker() -> None:
        nonlocal issued
        conn: Conn | None = None
        while now() < t_stop:
            measured = now() >= t_measure
            if requests is not None and measured:
                if issued >= requests:
                    break
                issued += 1  # a failed connection uses up its request too
            if conn is None or conn.transport is None:
                try:
                    conn = await asyncio.wait_for(connect(), timeout)
                except (OSError, TimeoutError):
                    if now() >= t_measure:
                        errors["connect"] = errors.get("connect", 0) + 1
                    if measured:
                        count_reply()
                    await asyncio.sleep(0.01)
                    conn = None
                    continue
            try:
                _, ttfb, total, _ = await conn.request(payload, timeout)
            except ReplyError as exc:
                if now() >= t_measure:
                    errors[exc.kind] = errors.get(exc.kind, 0) + 1
                if measured:
                    count_reply()
                if exc.kind in ("timeout", "connection_closed", "bad_reply"):
                    conn = None
                continue
            t = now()
            if t_measure <= t <= t_stop and (measured or requests is None):
                latencies.append(total)
                if stream:
                    ttfbs.append(ttfb)
                if slow_s is not None and total >= slow_s and len(slow) < 10_000:
                    slow.append((round(t - t_measure, 3), round(total * 1000, 3)))
            if measured:
                count_reply()
        if conn is not None and conn.transport is not None:
            conn.transport.close()

    await asyncio.gather(*(worker() for _ in range(conc)))
    elapsed = min(now(), t_stop) - t_measure
    result: dict[str, Any] = {
        "tool": "loadgen",
        "stream": stream,
        "conc": conc,
        "duration_s": round(elapsed, 3),
        "requests": len(latencies),
        "rps": round(len(latencies) / elapsed, 2) if elapsed > 0 else 0.0,
        "errors": errors,
        "error_count": sum(errors.values()),
        "latency_ms": percentiles(latencies),
    }
    if stream:
        result["ttfb_ms"] = percentiles(ttfbs)
    if slow_s is not None:
        result["slow"] = slow  # [seconds into the window, latency ms] of the slow replies
    return result


async def fetch_once(
    url: str, payload: bytes, *, stream: bool, timeout: float = 30.0
) -> tuple[int, bytes]:
    """One request on a fresh connection: (status, decoded body). Raises ReplyError."""
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(
        lambda: Conn(stream, keep_body=True), parts.hostname or "127.0.0.1", parts.port or 80
    )
    try:
        status, _, _, body = await conn.request(payload, timeout)
        return status, body
    finally:
        if conn.transport is not None:
            conn.transport.close()


def install_uvloop() -> str:
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--url", required=True, help="full URL of the chat-completions endpoint")
    p.add_argument("--model", default="gpt-4o-mini")
    p.add_argument("--stream", action="store_true", help="streamed requests (SSE)")
    p.add_argument("--conc", type=int, default=1, help="connections, one request in flight each")
    p.add_argument("--duration", type=float, default=None,
                   help="measured seconds (default 10; with --requests: no time limit)")
    p.add_argument("--requests", type=int, default=None,
                   help="stop after this many measured requests")
    p.add_argument("--warmup", type=float, default=0.0, help="unrecorded seconds before")
    p.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, seconds")
    p.add_argument("--slow-ms", type=float, default=None,
                   help="also list when each reply slower than this came (stalls over time)")
    p.add_argument("-H", "--header", action="append", default=[],
                   help="extra request header 'Name: value' (repeatable)")
    p.add_argument("--extra", default=None,
                   help="JSON object merged into every request body (e.g. a cache setting)")
    args = p.parse_args(argv)
    headers = []
    for h in args.header:
        name, _, value = h.partition(":")
        headers.append((name.strip(), value.strip()))
    loop_kind = install_uvloop()
    extra = json.loads(args.extra) if args.extra else None
    payload = build_request(args.url, chat_body(args.model, args.stream, extra=extra), headers)
    result = asyncio.run(
        run_load(
            args.url,
            payload,
            stream=args.stream,
            conc=args.conc,
            duration=args.duration if args.duration is not None
            else (math.inf if args.requests else 10.0),
            warmup=args.warmup,
            timeout=args.timeout,
            slow_ms=args.slow_ms,
            requests=args.requests,
        )
    )
    result["loop"] = loop_kind
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
