"""Sample traces, shaped as the chat route builds them."""

from __future__ import annotations

import itertools
import time
from typing import Any

from waystation.observe.trace import Attempt, Trace
from waystation.store.ids import new_ulid

_clock = itertools.count()
BASE = time.time() - 3600  # an hour ago, so "the last 30 days" windows include every sample


def trace(
    *,
    model: str = "openai/gpt-4o-mini",
    at: float | None = None,
    prompt: int = 100,
    completion: int = 20,
    status: int = 200,
    **fields: Any,
) -> Trace:
    """A finished trace; each call is one millisecond after the previous one."""
    created = at if at is not None else BASE + next(_clock) / 1000
    usage = {"prompt_tokens": prompt, "completion_tokens": completion,
             "total_tokens": prompt + completion} if status < 400 else None
    defaults: dict[str, Any] = {
        "id": new_ulid(created), "created": created, "key_id": "key_1",
        "requested_model": model, "model": model if status < 400 else None,
        "status": status, "latency_ms": 120.0, "usage": usage,
        "attempts": [Attempt(model, status, 110.0)],
        "request": {"model": model, "messages": [{"role": "user", "content": "hi"}]},
        "response": {"id": "chatcmpl-1", "object": "chat.completion",
                     "choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": "hello"}}]}
        if status < 400 else None,
        "error": {"error": {"code": "upstream_error", "message": "down", "param": None,
                            "type": "api_error"}} if status >= 400 else None,
    }
    defaults.update(fields)
    return Trace(**defaults)
