"""Chunks add up to the completion they describe."""

from __future__ import annotations

from waystation.core.accumulate import StreamAccumulator

HEAD = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "p/m"}


def chunk(delta: dict, finish: str | None = None, index: int = 0) -> dict:
    return {**HEAD, "choices": [{"index": index, "delta": delta, "finish_reason": finish}]}


def test_text_reasoning_and_usage_accumulate() -> None:
    acc = StreamAccumulator()
    for c in [
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning": "let me "}),
        chunk({"reasoning": "think", "reasoning_signature": "sig"}),
        chunk({"content": "Hel"}),
        chunk({"content": "lo"}),
        chunk({}, "stop"),
        {**HEAD, "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2,
                                          "total_tokens": 5}},
    ]:
        acc.add(c)
    out = acc.result()
    assert out["object"] == "chat.completion"
    assert out["model"] == "p/m"
    msg = out["choices"][0]["message"]
    assert msg["content"] == "Hello"
    assert msg["reasoning"] == "let me think"
    assert msg["reasoning_signature"] == "sig"
    assert out["choices"][0]["finish_reason"] == "stop"
    assert out["usage"]["total_tokens"] == 5


def test_parallel_tool_calls_accumulate_by_index() -> None:
    acc = StreamAccumulator()
    acc.add(chunk({"tool_calls": [{"index": 0, "id": "a", "type": "function",
                                   "function": {"name": "f", "arguments": ""}}]}))
    acc.add(chunk({"tool_calls": [{"index": 1, "id": "b", "type": "function",
                                   "function": {"name": "g", "arguments": "{\"x\""}}]}))
    acc.add(chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}))
    acc.add(chunk({"tool_calls": [{"index": 1, "function": {"arguments": ": 1}"}}]}))
    acc.add(chunk({}, "tool_calls"))
    calls = acc.result()["choices"][0]["message"]["tool_calls"]
    assert [c["id"] for c in calls] == ["a", "b"]
    assert calls[0]["function"] == {"name": "f", "arguments": "{}"}
    assert calls[1]["function"] == {"name": "g", "arguments": "{\"x\": 1}"}
    assert acc.result()["choices"][0]["message"]["content"] is None


def test_several_choices_stay_apart() -> None:
    acc = StreamAccumulator()
    acc.add(chunk({"content": "a"}, index=0))
    acc.add(chunk({"content": "b"}, index=1))
    acc.add(chunk({}, "stop", index=0))
    acc.add(chunk({}, "length", index=1))
    choices = acc.result()["choices"]
    assert [c["message"]["content"] for c in choices] == ["a", "b"]
    assert [c["finish_reason"] for c in choices] == ["stop", "length"]
