"""A cached completion replayed as a stream adds back up to the same message (parity)."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from waystation.cache.replay import (
    hit_completion,
    replay_chunks,
    split_text,
    usage_on_hit,
)
from waystation.core.accumulate import StreamAccumulator
from waystation.transport.sse import SSEParser, frame

USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": 30,
    "total_tokens": 42,
    "completion_tokens_details": {"reasoning_tokens": 8},
}


def completion(*choices: dict[str, Any], usage: dict[str, Any] | None = USAGE) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_1",
        "choices": list(choices),
    }
    if usage is not None:
        out["usage"] = usage
    return out


def text_choice(content: str, index: int = 0, **message: Any) -> dict[str, Any]:
    return {
        "index": index,
        "message": {"role": "assistant", "content": content, **message},
        "finish_reason": "stop",
    }


TOOL_CALLS: list[dict[str, Any]] = [
    {"id": "call_1", "type": "function",
     "function": {"name": "get_weather", "arguments": '{"city": "Paris", "unit": "celsius"}'}},
    {"id": "call_2", "type": "function", "thought_signature": "sig==",
     "function": {"name": "get_time", "arguments": '{"tz": "Europe/Paris"}'}},
]

CASES = {
    "text": completion(text_choice("The quick brown fox jumps over the lazy dog. " * 5)),
    "short text": completion(text_choice("Hi")),
    "unicode": completion(text_choice("Grüße — 你好 👋🏽 " * 7)),
    "reasoning": completion(text_choice(
        "Paris.", reasoning="The user asks for the capital of France; that is Paris. " * 3,
        reasoning_signature="EqQBCkYIARgCIkD",
    )),
    "tool calls": completion({
        "index": 0,
        "message": {"role": "assistant", "content": None, "tool_calls": TOOL_CALLS},
        "finish_reason": "tool_calls",
    }),
    "text and tool call": completion({
        "index": 0,
        "message": {"role": "assistant", "content": "Let me check.", "tool_calls": TOOL_CALLS[:1]},
        "finish_reason": "tool_calls",
    }),
    "refusal": completion({
        "index": 0,
        "message": {"role": "assistant", "content": None, "refusal": "I can't help with that."},
        "finish_reason": "stop",
    }),
    "two choices": completion(text_choice("First answer."), text_choice("Second one.", index=1)),
    "length": completion({**text_choice("Cut sho"), "finish_reason": "length"}),
    "logprobs": completion({
        **text_choice("Yes"),
        "logprobs": {"content": [{"token": "Yes", "logprob": -0.1, "bytes": [89, 101, 115],
                                  "top_logprobs": []}], "refusal": []},
    }),
    "audio": completion(text_choice(
        None,  # type: ignore[arg-type]
        audio={"id": "audio_1", "expires_at": 1, "data": "UklGR", "transcript": "Hi"},
    )),
    "no usage": completion(text_choice("No usage reported."), usage=None),
}


def accumulate(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    acc = StreamAccumulator()
    for chunk in chunks:
        acc.add(chunk)
    return acc.result()


@pytest.mark.parametrize("name", list(CASES))
def test_accumulating_the_replay_gives_back_the_completion(name: str) -> None:
    original = CASES[name]
    rebuilt = accumulate(replay_chunks(copy.deepcopy(original)))
    assert rebuilt == original


@pytest.mark.parametrize("name", list(CASES))
def test_parity_holds_through_sse_framing(name: str) -> None:
    """What a client parses off the wire adds up to the stored completion."""
    wire = b"".join(frame(c) for c in replay_chunks(CASES[name]))
    parser = SSEParser()
    events = parser.feed(wire) + parser.close()
    assert accumulate([orjson.loads(e.data) for e in events]) == CASES[name]


def test_a_stream_stored_then_replayed_is_the_same_answer() -> None:
    """The route stores an accumulated stream; replaying it gives the same accumulation."""
    live = [
        {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
         "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                      "finish_reason": None}]},
        *[{"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
           "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]}
          for w in ("Hel", "lo", " there")],
        {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
         "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
         "choices": [], "usage": USAGE},
    ]
    stored = accumulate(live)
    assert accumulate(replay_chunks(orjson.loads(orjson.dumps(stored)))) == stored


def test_chunks_come_in_stream_order() -> None:
    chunks = replay_chunks(CASES["reasoning"] | {"choices": [{
        "index": 0,
        "message": {"role": "assistant", "content": "Here.", "reasoning": "Think.",
                    "tool_calls": TOOL_CALLS[:1]},
        "finish_reason": "tool_calls",
    }]})
    deltas: list[Any] = [c["choices"][0]["delta"] if c["choices"] else None for c in chunks]
    assert deltas[0] == {"role": "assistant"}
    assert deltas[1] == {"reasoning": "Think."}
    assert deltas[2] == {"content": "Here."}
    first_call = deltas[3]["tool_calls"][0]
    assert first_call == {"index": 0, "id": "call_1", "type": "function",
                          "function": {"name": "get_weather", "arguments": ""}}
    assert all("id" not in d["tool_calls"][0] for d in deltas[4:-2])
    assert "".join(d["tool_calls"][0]["function"]["arguments"] for d in deltas[4:-2]) == \
        TOOL_CALLS[0]["function"]["arguments"]
    assert chunks[-2]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "tool_calls"}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == USAGE
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-2])


def test_every_chunk_carries_the_chunk_head() -> None:
    for chunk in replay_chunks(CASES["text"]):
        assert chunk["object"] == "chat.completion.chunk"
        assert (chunk["id"], chunk["created"], chunk["model"]) == (
            "chatcmpl-1", 1700000000, "gpt-4o-mini-2024-07-18")
        assert chunk["system_fingerprint"] == "fp_1"


def test_content_is_split_into_a_few_chunks() -> None:
    chunks = replay_chunks(CASES["text"])
    contents = [c["choices"][0]["delta"]["content"] for c in chunks
                if c["choices"] and "content" in c["choices"][0]["delta"]]
    assert 2 <= len(contents) <= 4


def test_usage_chunk_only_when_asked_for() -> None:
    chunks = replay_chunks(CASES["text"], include_usage=False)
    assert all(c["choices"] for c in chunks)
    assert all("usage" not in c for c in chunks)


def test_split_text_keeps_every_character_in_order() -> None:
    for text in ("", "a", "x" * 15, "y" * 17, "z" * 1000, "👋🏽" * 40):
        parts = split_text(text)
        assert "".join(parts) == text
        assert len(parts) <= 4


def test_a_hit_reports_the_same_counts_with_the_whole_prompt_cached() -> None:
    stored = orjson.dumps(completion(text_choice("Hi")))
    hit = hit_completion(stored)
    assert hit["usage"]["prompt_tokens"] == 12
    assert hit["usage"]["completion_tokens"] == 30
    assert hit["usage"]["total_tokens"] == 42
    assert hit["usage"]["prompt_tokens_details"]["cached_tokens"] == 12
    assert hit["usage"]["completion_tokens_details"] == {"reasoning_tokens": 8}
    assert hit["choices"] == completion(text_choice("Hi"))["choices"]


def test_hit_usage_keeps_other_details_and_zeroes_cache_writes() -> None:
    usage = usage_on_hit({"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6,
                          "prompt_tokens_details": {"cached_tokens": 2, "audio_tokens": 1,
                                                    "cache_creation_tokens": 3}})
    assert usage["prompt_tokens_details"] == {"cached_tokens": 5, "audio_tokens": 1,
                                              "cache_creation_tokens": 0}


def test_a_hit_without_usage_stays_without_usage() -> None:
    assert "usage" not in hit_completion(orjson.dumps(CASES["no usage"]))
