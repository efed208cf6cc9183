"""Tool-call ids: Gemini often sends none, while OpenAI-format callers need one per call.

When Gemini gives an id we pass it through, and send it back on the call and its result. When it
gives none we make one from the response id and the call's position, so decoding the same answer
twice (or streaming it) yields the same ids; such ids are recognised by their prefix and never
sent to Gemini, which matches a result to its call by function name and position instead.
"""

from __future__ import annotations

PREFIX = "call_gmn_"

# Google's documented placeholder for a function call that carries no thought signature of
# its own (a history written by another model): Gemini 3 refuses unsigned calls otherwise.
UNSIGNED_CALL_SIGNATURE = "skip_thought_signature_validator"


def synthesize(response_id: str, choice: int, position: int) -> str:
    return f"{PREFIX}{response_id}_{choice}_{position}"


def is_synthesized(call_id: str) -> bool:
    return call_id.startswith(PREFIX)
