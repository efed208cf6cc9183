"""Streamed chunks → the `chat.completion` they add up to.

One accumulator serves every provider (they all produce OpenAI chunks), so traces, the cache
and usage are built the same way for streamed and non-streamed answers, and a parity test can
check that a provider's stream adds up to its non-streamed answer.
"""

from __future__ import annotations

from typing import Any

_TEXT_FIELDS = ("content", "refusal", "reasoning", "reasoning_signature", "redacted_reasoning")


def _append(texts: dict[str, list[str]], key: str, value: str) -> None:
    pieces = texts.get(key)
    if pieces is None:
        texts[key] = [value]
    else:
        pieces.append(value)


class _ChoiceState:
    __slots__ = ("finish_reason", "logprobs", "message", "texts", "tool_calls")

    def __init__(self) -> None:
        self.texts: dict[str, list[str]] = {}
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.logprobs: dict[str, list[Any]] | None = None
        self.message: dict[str, Any] = {"role": "assistant"}


class StreamAccumulator:
    def __init__(self) -> None:
        self.head: dict[str, Any] = {}
        self.usage: dict[str, Any] | None = None
        self._choices: dict[int, _ChoiceState] = {}
        self.chunks = 0

    def add(self, chunk: dict[str, Any]) -> None:
        self.chunks += 1
        if not self.head:
            self.head = {k: chunk.get(k) for k in ("id", "created", "model", "system_fingerprint")}
        usage = chunk.get("usage")
        if usage:
            self.usage = usage
        for choice in chunk.get("choices") or ():
            # this runs for every event of every stream: no allocation unless there is news
            index = choice.get("index", 0)
            state = self._choices.get(index)
            if state is None:
                state = self._choices[index] = _ChoiceState()
            delta = choice.get("delta")
            if delta:
                text = delta.get("content")
                if len(delta) == 1 and type(text) is str:  # the usual event: a piece of text
                    if text:
                        _append(state.texts, "content", text)
                else:
                    self._add_delta(state, delta)
            if choice.get("finish_reason") is not None:
                state.finish_reason = choice["finish_reason"]
            lp = choice.get("logprobs")
            if lp:
                if state.logprobs is None:
                    state.logprobs = {"content": [], "refusal": []}
                for key in ("content", "refusal"):
                    state.logprobs[key].extend(lp.get(key) or ())

    @staticmethod
    def _add_delta(state: _ChoiceState, delta: dict[str, Any]) -> None:
        for key in _TEXT_FIELDS:
            value = delta.get(key)
            if value:
                _append(state.texts, key, value)
        for call in delta.get("tool_calls") or ():
            slot = state.tool_calls.setdefault(
                call.get("index", len(state.tool_calls)),
                {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
            )
            if call.get("id"):
                slot["id"] = call["id"]
            fn = call.get("function") or {}
            if fn.get("name"):
                slot["function"]["name"] += fn["name"]
            if fn.get("arguments"):
                slot["function"]["arguments"] += fn["arguments"]
            for extra in ("thought_signature", "extra_content"):
                if call.get(extra) is not None:
                    slot[extra] = call[extra]
        if delta.get("audio"):
            state.message["audio"] = delta["audio"]

    def result(self) -> dict[str, Any]:
        choices = []
        for index in sorted(self._choices):
            state = self._choices[index]
            message = dict(state.message)
            text = state.texts.get("content")
            message["content"] = "".join(text) if text is not None else None
            for key in _TEXT_FIELDS[1:]:
                if key in state.texts:
                    message[key] = "".join(state.texts[key])
            if state.tool_calls:
                message["tool_calls"] = [state.tool_calls[i] for i in sorted(state.tool_calls)]
            choice: dict[str, Any] = {
                "index": index,
                "message": message,
                "finish_reason": state.finish_reason,
            }
            if state.logprobs is not None:
                choice["logprobs"] = state.logprobs
            choices.append(choice)
        out = {**self.head, "object": "chat.completion", "choices": choices}
        if self.usage is not None:
            out["usage"] = self.usage
        return out
