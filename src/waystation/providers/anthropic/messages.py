"""Chat messages → Anthropic's `system` blocks and alternating user/assistant turns.

The chat format has five roles; Messages has two turns plus a separate system prompt. So:
system and developer messages become `system` text blocks (in order, wherever they stood);
tool results become `tool_result` blocks of a user turn; and consecutive turns of the same
role are merged, which also puts parallel tool results into the single user turn Anthropic
expects after a turn of parallel tool calls.

An earlier answer that carried thinking is sent back with its thinking (and redacted
thinking) blocks first and the signature untouched: Anthropic verifies them when a tool loop
continues with thinking on, and refuses a turn whose thinking was moved or altered.
"""

from __future__ import annotations

from typing import Any

import orjson

from waystation.providers.anthropic.parts import Block, text_block, user_blocks
from waystation.providers.anthropic.policy import ParamPolicy

Turn = dict[str, Any]

THINKING_TYPES = frozenset({"thinking", "redacted_thinking"})


def convert_messages(
    messages: list[dict[str, Any]], policy: ParamPolicy
) -> tuple[list[Block], list[Turn]]:
    """(system blocks, turns) for a validated chat `messages` array."""
    system: list[Block] = []
    turns: list[Turn] = []
    for i, msg in enumerate(messages):
        path = f"messages[{i}]"
        role = msg.get("role")
        if msg.get("name") is not None:
            policy.unsupported(f"{path}.name", "messages carry no participant names")
        if role in ("system", "developer"):
            system.extend(_system_blocks(msg["content"]))
        elif role == "user":
            _append(turns, "user", user_blocks(msg["content"], path, policy))
        elif role == "assistant":
            _append(turns, "assistant", _assistant_blocks(msg, path, policy))
        elif role == "tool":
            _append(turns, "user", [_tool_result(msg, path, policy)])
        else:
            policy.unsupported(f"{path}.role", f"the '{role}' role cannot be sent; use tools")
    return system, turns


def _system_blocks(content: Any) -> list[Block]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return [text_block(p) for p in content if p.get("text")]


def _append(turns: list[Turn], role: str, blocks: list[Block]) -> None:
    """Add blocks as a turn, merging into the previous turn when it has the same role."""
    if not blocks:
        return
    if not turns or turns[-1]["role"] != role:
        turns.append({"role": role, "content": blocks})
        return
    existing: list[Block] = turns[-1]["content"]
    if role != "assistant":
        existing.extend(blocks)
        return
    # a merged assistant turn must still open with its thinking blocks
    lead = 0
    while lead < len(existing) and existing[lead].get("type") in THINKING_TYPES:
        lead += 1
    thinking = [b for b in blocks if b.get("type") in THINKING_TYPES]
    existing[lead:lead] = thinking
    existing.extend(b for b in blocks if b.get("type") not in THINKING_TYPES)


def _assistant_blocks(msg: dict[str, Any], path: str, policy: ParamPolicy) -> list[Block]:
    for key in ("audio", "function_call"):
        if msg.get(key) is not None:
            policy.unsupported(f"{path}.{key}", "earlier answers are sent as text and tool calls")
    thinking = _message_thinking(msg)
    rest: list[Block] = []
    content = msg.get("content")
    if isinstance(content, str):
        if content:
            rest.append({"type": "text", "text": content})
    elif isinstance(content, list):
        for part in content:
            block = _assistant_part(part)
            if block is None:
                continue
            (thinking if block["type"] in THINKING_TYPES else rest).append(block)
    if msg.get("refusal"):
        rest.append({"type": "text", "text": msg["refusal"]})
    for j, call in enumerate(msg.get("tool_calls") or ()):
        rest.append(_tool_use(call, f"{path}.tool_calls[{j}]", policy))
    return thinking + rest


def _message_thinking(msg: dict[str, Any]) -> list[Block]:
    """The message-level reasoning echo (what our responses carry) → thinking blocks.

    Reasoning without a signature came from elsewhere (another provider, or an edited
    transcript): Anthropic cannot verify it, so it is left out rather than sent to be refused.
    """
    out: list[Block] = []
    signature = msg.get("reasoning_signature")
    if signature:
        text = msg.get("reasoning") or msg.get("reasoning_content") or ""
        out.append({"type": "thinking", "thinking": text, "signature": signature})
    if msg.get("redacted_reasoning"):
        out.append({"type": "redacted_thinking", "data": msg["redacted_reasoning"]})
    return out


def _assistant_part(part: dict[str, Any]) -> Block | None:
    kind = part.get("type")
    if kind == "text":
        return text_block(part) if part.get("text") else None
    if kind == "refusal":
        return {"type": "text", "text": part["refusal"]} if part.get("refusal") else None
    if kind == "reasoning":
        if not part.get("signature"):
            return None  # unverifiable: see _message_thinking
        return {"type": "thinking", "thinking": part.get("reasoning") or "",
                "signature": part["signature"]}
    if kind == "redacted_reasoning":
        return {"type": "redacted_thinking", "data": part["data"]}
    return None


def _tool_use(call: dict[str, Any], path: str, policy: ParamPolicy) -> Block:
    fn = call.get("function") or {}
    if not fn.get("name"):
        raise policy.invalid(f"{path}.function.name", "a tool call needs the function's name")
    raw = fn.get("arguments") or "{}"
    try:
        args = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise policy.invalid(
            f"{path}.function.arguments", "tool call arguments must be a JSON object"
        ) from None
    if not isinstance(args, dict):
        raise policy.invalid(
            f"{path}.function.arguments", "tool call arguments must be a JSON object"
        )
    return {"type": "tool_use", "id": call["id"], "name": fn["name"], "input": args}


def _tool_result(msg: dict[str, Any], path: str, policy: ParamPolicy) -> Block:
    call_id = msg.get("tool_call_id")
    if not call_id:
        raise policy.invalid(f"{path}.tool_call_id", "a tool result needs the tool call's id")
    content = msg["content"]
    block: Block = {"type": "tool_result", "tool_use_id": call_id}
    if isinstance(content, str):
        block["content"] = content
    else:
        block["content"] = [text_block(p) for p in content]
    if msg.get("cache_control") is not None:
        block["cache_control"] = msg["cache_control"]
    return block
