"""The AWS event-stream framing (`application/vnd.amazon.eventstream`), decoded incrementally.

ConverseStream answers in binary frames, not SSE. Each frame is:

    prelude   total length (u32 BE) · headers length (u32 BE) · CRC32 of those 8 bytes (u32 BE)
    headers   name length (u8) · name · value type (u8) · value   (repeated)
    payload   total - headers length - 16 bytes (JSON for Bedrock)
    trailer   CRC32 of everything before it (u32 BE)

Both checksums are verified: a corrupt frame is an upstream failure, never a guessed event.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any

from waystation.errors import UpstreamBadResponse

_PRELUDE = 12
_TRAILER = 4
# The AWS limits: a frame is at most 16 MiB, its headers at most 128 KiB.
MAX_FRAME = 16 * 1024 * 1024
MAX_HEADERS = 128 * 1024

HeaderValue = bool | int | bytes | str


@dataclass(slots=True)
class Frame:
    """One decoded message: its headers and raw payload."""

    headers: dict[str, HeaderValue] = field(default_factory=dict)
    payload: bytes = b""

    @property
    def message_type(self) -> str:
        return str(self.headers.get(":message-type", "event"))

    @property
    def event_type(self) -> str:
        return str(self.headers.get(":event-type", ""))

    @property
    def exception_type(self) -> str:
        return str(self.headers.get(":exception-type", ""))


class EventStreamParser:
    """Feeds on arbitrary byte slices and yields complete, checksum-verified frames."""

    __slots__ = ("_buf", "_provider")

    def __init__(self, provider: str = "bedrock") -> None:
        self._buf = bytearray()
        self._provider = provider

    def feed(self, chunk: bytes) -> list[Frame]:
        self._buf += chunk
        frames: list[Frame] = []
        while len(self._buf) >= _PRELUDE:
            total, headers_len = self._check_prelude()
            if len(self._buf) < total:
                break
            frame_bytes = bytes(self._buf[:total])
            del self._buf[:total]
            frames.append(self._decode(frame_bytes, headers_len))
        return frames

    def close(self) -> list[Frame]:
        if self._buf:
            raise self._bad(f"the event stream ended inside a frame ({len(self._buf)} bytes)")
        return []

    def _check_prelude(self) -> tuple[int, int]:
        total, headers_len, crc = struct.unpack_from(">III", self._buf, 0)
        if zlib.crc32(self._buf[:8]) != crc:
            raise self._bad("an event-stream frame has a wrong prelude checksum")
        if total < _PRELUDE + _TRAILER + headers_len or total > MAX_FRAME:
            raise self._bad(f"an event-stream frame claims an impossible length ({total})")
        if headers_len > MAX_HEADERS:
            raise self._bad("an event-stream frame's headers are too long")
        return total, headers_len

    def _decode(self, frame: bytes, headers_len: int) -> Frame:
        (crc,) = struct.unpack_from(">I", frame, len(frame) - _TRAILER)
        if zlib.crc32(frame[:-_TRAILER]) != crc:
            raise self._bad("an event-stream frame has a wrong message checksum")
        headers_end = _PRELUDE + headers_len
        try:
            headers = _parse_headers(frame[_PRELUDE:headers_end])
        except (struct.error, UnicodeDecodeError, ValueError, IndexError) as exc:
            raise self._bad(f"an event-stream frame has malformed headers ({exc})") from None
        return Frame(headers, frame[headers_end:-_TRAILER])

    def _bad(self, what: str) -> UpstreamBadResponse:
        return UpstreamBadResponse(f"{self._provider}: {what}", provider=self._provider)


# value type → (struct format, size) for the fixed-size types
_FIXED: dict[int, tuple[str, int]] = {2: (">b", 1), 3: (">h", 2), 4: (">i", 4), 5: (">q", 8),
                                      8: (">q", 8)}


def _parse_headers(data: bytes) -> dict[str, HeaderValue]:
    headers: dict[str, HeaderValue] = {}
    pos = 0
    while pos < len(data):
        name_len = data[pos]
        name = data[pos + 1:pos + 1 + name_len].decode("utf-8")
        pos += 1 + name_len
        kind = data[pos]
        pos += 1
        value: Any
        if kind in (0, 1):
            value = kind == 0
        elif kind in _FIXED:
            fmt, size = _FIXED[kind]
            (value,) = struct.unpack_from(fmt, data, pos)
            pos += size
        elif kind in (6, 7):
            (length,) = struct.unpack_from(">H", data, pos)
            raw = data[pos + 2:pos + 2 + length]
            if len(raw) != length:
                raise ValueError("a header value runs past the headers")
            value = raw.decode("utf-8") if kind == 7 else raw
            pos += 2 + length
        elif kind == 9:
            value = str(uuid.UUID(bytes=data[pos:pos + 16]))
            pos += 16
        else:
            raise ValueError(f"unknown header value type {kind}")
        headers[name] = value
    return headers
