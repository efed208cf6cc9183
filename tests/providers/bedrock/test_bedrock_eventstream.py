"""The event-stream parser: frames split anywhere, every header value type, checksums enforced."""

from __future__ import annotations

import struct
import uuid
import zlib

import pytest
from tests.fakes.bedrock_server import encode_frame, event_frame

from waystation.errors import UpstreamBadResponse
from waystation.providers.bedrock.eventstream import EventStreamParser


def frame_with_raw_headers(raw_headers: bytes, payload: bytes) -> bytes:
    total = 12 + len(raw_headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(raw_headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + raw_headers + payload
    return body + struct.pack(">I", zlib.crc32(body))


def header(name: str, kind: int, value: bytes) -> bytes:
    return bytes([len(name)]) + name.encode() + bytes([kind]) + value


def test_frames_split_at_every_byte_are_reassembled() -> None:
    raw = event_frame("messageStart", {"role": "assistant"}) + event_frame(
        "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "héllo"}})
    parser = EventStreamParser()
    frames = [f for i in range(len(raw)) for f in parser.feed(raw[i:i + 1])]
    assert [f.event_type for f in frames] == ["messageStart", "contentBlockDelta"]
    assert frames[1].message_type == "event"
    assert "héllo".encode() in frames[1].payload
    assert parser.close() == []


def test_every_header_value_type_is_decoded() -> None:
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    raw_headers = b"".join([
        header("t", 0, b""), header("f", 1, b""), header("b", 2, struct.pack(">b", -3)),
        header("s", 3, struct.pack(">h", 300)), header("i", 4, struct.pack(">i", -70000)),
        header("l", 5, struct.pack(">q", 2**40)), header("x", 6, b"\x00\x02\xff\x00"),
        header(":event-type", 7, b"\x00\x08metadata"), header("ts", 8, struct.pack(">q", 1700)),
        header("u", 9, ident.bytes),
    ])
    (frame,) = EventStreamParser().feed(frame_with_raw_headers(raw_headers, b"{}"))
    assert frame.headers == {"t": True, "f": False, "b": -3, "s": 300, "i": -70000, "l": 2**40,
                             "x": b"\xff\x00", ":event-type": "metadata", "ts": 1700,
                             "u": str(ident)}


@pytest.mark.parametrize("flip_at", [9, 20, -2])
def test_a_corrupt_frame_is_refused_not_guessed(flip_at: int) -> None:
    raw = bytearray(encode_frame({":event-type": "messageStop"}, b'{"stopReason":"end_turn"}'))
    raw[flip_at] ^= 0x01
    with pytest.raises(UpstreamBadResponse):
        EventStreamParser().feed(bytes(raw))


def test_a_stream_cut_inside_a_frame_is_an_error_at_close() -> None:
    raw = event_frame("messageStart", {"role": "assistant"})
    parser = EventStreamParser()
    assert parser.feed(raw[:-5]) == []
    with pytest.raises(UpstreamBadResponse):
        parser.close()


def test_an_impossible_length_is_refused() -> None:
    prelude = struct.pack(">II", 8, 0)
    raw = prelude + struct.pack(">I", zlib.crc32(prelude))
    with pytest.raises(UpstreamBadResponse):
        EventStreamParser().feed(raw)
