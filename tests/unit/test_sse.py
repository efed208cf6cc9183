"""The SSE parser must cut events correctly whatever the byte boundaries."""

from __future__ import annotations

from waystation.transport.sse import SSEParser

STREAM = (
    b": keep-alive\n\n"
    b"event: message_start\ndata: {\"a\": 1}\n\n"
    b"data: line one\ndata: line two\n\n"
    b"data: [DONE]\n\n"
)


def events(chunks: list[bytes]) -> list[tuple[str | None, str]]:
    parser = SSEParser()
    out = []
    for chunk in chunks:
        out.extend((e.event, e.data) for e in parser.feed(chunk))
    out.extend((e.event, e.data) for e in parser.close())
    return out


EXPECTED = [("message_start", '{"a": 1}'), (None, "line one\nline two"), (None, "[DONE]")]


def test_whole_stream_at_once() -> None:
    assert events([STREAM]) == EXPECTED


def test_every_byte_boundary() -> None:
    for cut in range(1, len(STREAM)):
        assert events([STREAM[:cut], STREAM[cut:]]) == EXPECTED, cut


def test_one_byte_at_a_time() -> None:
    assert events([STREAM[i:i + 1] for i in range(len(STREAM))]) == EXPECTED


def test_crlf_line_endings() -> None:
    assert events([STREAM.replace(b"\n", b"\r\n")]) == EXPECTED


def test_a_last_event_without_a_blank_line_is_not_lost() -> None:
    assert events([b"data: tail"]) == [(None, "tail")]


def test_no_space_after_the_colon() -> None:
    assert events([b"data:x\n\n"]) == [(None, "x")]


def test_crlf_split_between_reads_is_one_line_end() -> None:
    stream = STREAM.replace(b"\n", b"\r\n")
    for cut in range(1, len(stream)):
        assert events([stream[:cut], stream[cut:]]) == EXPECTED, cut
