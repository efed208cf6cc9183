"""Gemini answers → OpenAI `chat.completion` pieces, shared by the plain and streamed paths.

One candidate is one choice. Its parts become: text → `content`, thought text (`thought: true`)
→ `reasoning`, `functionCall` → a tool call whose arguments are the JSON of `args`. A thought
signature on a function call stays with that call (`thought_signature`, and again under
`extra_content.google` where Google's own OpenAI-compatible API puts it); the first signature
on any other part becomes `reasoning_signature`. Both ways read parts through the same
`candidate_delta`, so a streamed answer adds up to the same message as the plain one.

Finish reasons: STOP → `stop` (`tool_calls` when the answer calls functions), MAX_TOKENS →
`length`, the safety family → `content_filter`. A model that failed to produce a usable answer
(MALFORMED_FUNCTION_CALL and kin) is an upstream error, which a retry or fallback can cure; it
is not dressed up as an empty answer.

Usage: `prompt_tokens` = promptTokenCount (+ toolUsePromptTokenCount); `completion_tokens` =
candidatesTokenCount + thoughtsTokenCount, since Gemini counts thoughts apart from the answer
while the OpenAI format counts reasoning inside the completion; `total_tokens` =
totalTokenCount; cached and reasoning tokens are reported in the details (0 when absent, which
is how Gemini's JSON says 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from waystation.errors import UpstreamBadResponse, UpstreamError, UpstreamRejected
from waystation.providers.gemini import call_ids

FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "LANGUAGE": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
    "MODEL_ARMOR": "content_filter",
}

# Endings where the model produced no usable answer: reason → what to tell the caller.
FAILED_ANSWERS = {
    "MALFORMED_FUNCTION_CALL": "the model produced a function call that is not valid",
    "UNEXPECTED_TOOL_CALL": "the model called a tool that was not offered",
    "TOO_MANY_TOOL_CALLS": "the model made too many tool calls",
    "MALFORMED_RESPONSE": "the model produced a malformed answer",
}


@dataclass
class ChoiceState:
    """What one choice has seen so far (the whole answer, or the stream up to now)."""

    calls: int = 0
    signed: bool = False
    started: bool = False
    finish: str | None = None


def candidate_delta(
    cand: dict[str, Any], state: ChoiceState, response_id: str, choice: int
) -> dict[str, Any]:
    """The delta one candidate (or one streamed slice of it) adds to its choice."""
    content: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    delta: dict[str, Any] = {}
    for part in (cand.get("content") or {}).get("parts") or ():
        if "functionCall" in part:
            calls.append(_tool_call(part, state.calls, response_id, choice))
            state.calls += 1
            continue
        text = part.get("text")
        if isinstance(text, str) and text:
            (reasoning if part.get("thought") else content).append(text)
        signature = part.get("thoughtSignature")
        if signature and not state.signed:
            delta["reasoning_signature"] = signature
            state.signed = True
    if reasoning:
        delta["reasoning"] = "".join(reasoning)
    if content:
        delta["content"] = "".join(content)
    if calls:
        delta["tool_calls"] = calls
    return delta


def _tool_call(
    part: dict[str, Any], position: int, response_id: str, choice: int
) -> dict[str, Any]:
    fc = part["functionCall"]
    call: dict[str, Any] = {
        "index": position,
        "id": fc.get("id") or call_ids.synthesize(response_id, choice, position),
        "type": "function",
        "function": {
            "name": fc.get("name") or "",
            "arguments": orjson.dumps(fc.get("args") or {}).decode(),
        },
    }
    signature = part.get("thoughtSignature")
    if signature:
        call["thought_signature"] = signature
        call["extra_content"] = {"google": {"thought_signature": signature}}
    return call


def finish_reason(raw: str | None, has_calls: bool, provider: str) -> str:
    if raw in FAILED_ANSWERS:
        raise UpstreamError(
            f"{provider}: {FAILED_ANSWERS[raw]} (finishReason {raw})",
            provider=provider,
            status=502,
            code=f"upstream_{raw.lower()}",
        )
    if raw == "MISSING_THOUGHT_SIGNATURE":
        raise UpstreamRejected(
            f"{provider}: a function call in the history lacks its thought signature; send "
            "back each tool call's thought_signature as it was received",
            provider=provider,
            code="missing_thought_signature",
        )
    reason = FINISH_REASONS.get(raw or "STOP", "stop")
    return "tool_calls" if reason == "stop" and has_calls else reason


def blocked_delta(block_reason: str) -> dict[str, Any]:
    """A prompt Gemini refused to answer: an empty answer that says why, as a refusal."""
    return {"role": "assistant",
            "refusal": f"The prompt was blocked by the provider (blockReason {block_reason})."}


def logprobs(cand: dict[str, Any]) -> dict[str, Any] | None:
    result = cand.get("logprobsResult") or {}
    chosen = result.get("chosenCandidates") or []
    if not chosen:
        return None
    tops = result.get("topCandidates") or []
    content = []
    for i, token in enumerate(chosen):
        top = (tops[i].get("candidates") or []) if i < len(tops) else []
        content.append({**_token(token), "top_logprobs": [_token(t) for t in top]})
    return {"content": content, "refusal": []}


def _token(entry: dict[str, Any]) -> dict[str, Any]:
    text = entry.get("token") or ""
    return {"token": text, "logprob": float(entry.get("logProbability", 0.0)),
            "bytes": list(text.encode())}


def usage(meta: dict[str, Any] | None) -> dict[str, Any] | None:
    if not meta:
        return None
    prompt = int(meta.get("promptTokenCount", 0)) + int(meta.get("toolUsePromptTokenCount", 0))
    thoughts = int(meta.get("thoughtsTokenCount", 0))
    completion = int(meta.get("candidatesTokenCount", 0)) + thoughts
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(meta.get("totalTokenCount") or prompt + completion),
        "prompt_tokens_details": {"cached_tokens": int(meta.get("cachedContentTokenCount", 0))},
        "completion_tokens_details": {"reasoning_tokens": thoughts},
    }


def decode_answer(
    data: dict[str, Any], *, model: str, created: int, fallback_id: str, provider: str
) -> dict[str, Any]:
    """A whole `GenerateContentResponse` → a `chat.completion`."""
    response_id = str(data.get("responseId") or fallback_id)
    cands = data.get("candidates") or []
    block = (data.get("promptFeedback") or {}).get("blockReason")
    if not cands and not block:
        raise UpstreamBadResponse(f"{provider} answered without candidates", provider=provider)
    choices = [_choice(c, pos, response_id, provider) for pos, c in enumerate(cands)]
    if not cands:
        message = {"content": None, **blocked_delta(str(block))}
        choices = [{"index": 0, "message": message, "finish_reason": "content_filter"}]
    out: dict[str, Any] = {
        "id": response_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
    }
    counted = usage(data.get("usageMetadata"))
    if counted is not None:
        out["usage"] = counted
    return out


def _choice(cand: dict[str, Any], pos: int, response_id: str, provider: str) -> dict[str, Any]:
    index = int(cand.get("index", pos))
    state = ChoiceState()
    delta = candidate_delta(cand, state, response_id, index)
    message: dict[str, Any] = {"role": "assistant", "content": delta.get("content")}
    for key in ("reasoning", "reasoning_signature"):
        if key in delta:
            message[key] = delta[key]
    if "tool_calls" in delta:
        message["tool_calls"] = [
            {k: v for k, v in call.items() if k != "index"} for call in delta["tool_calls"]
        ]
    choice: dict[str, Any] = {
        "index": index,
        "message": message,
        "finish_reason": finish_reason(cand.get("finishReason"), state.calls > 0, provider),
    }
    lp = logprobs(cand)
    if lp is not None:
        choice["logprobs"] = lp
    return choice
