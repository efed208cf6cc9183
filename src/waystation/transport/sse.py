"""Server-sent events: an incremental parser for upstream streams, and the framing we send."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

DONE = b"data: [DONE]\n\n"


@dataclass(slots=True)
class SSEEvent:
    data: str
    event: str | None = None


class SSEParser:
    """Feeds on arbitrary byte slices and yields complete events (WHATWG rules, minus `retry`)."""

    __slots__ = ("_buf", "_data", "_event")

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[str] = []
        self._event: str | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        buf = self._buf + chunk if self._buf else chunk
        held = b""
        if buf.endswith(b"\r"):
            # it may be the first half of a \r\n split across two reads
            buf, held = buf[:-1], b"\r"
        if b"\r" in buf:
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buf.split(b"\n")
        self._buf = lines.pop() + held
        out: list[SSEEvent] = []
        for raw in lines:
            if not raw:
                if self._data or self._event is not None:
                    out.append(SSEEvent("\n".join(self._data), self._event))
                self._data, self._event = [], None
                continue
            line = raw.decode("utf-8", "replace")
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._event = value
        return out

    def close(self) -> list[SSEEvent]:
        """Events left when the stream ends without a final blank line."""
        out = self.feed(b"\n\n") if self._buf else []
        if self._data:
            out.append(SSEEvent("\n".join(self._data), self._event))
            self._data, self._event = [], None
        return out


def frame(obj: object) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"
