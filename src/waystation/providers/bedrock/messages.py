"""OpenAI chat messages → Converse `system` blocks and `messages`.

What the translation has to bridge:
- system and developer messages (wherever they are) become top-level `system` blocks;
- tool results are `toolResult` blocks in a *user* turn, and Converse wants the roles to
  alternate, so consecutive turns of one role are merged into one (tool results first, as they
  came);
- an assistant turn is reasoning, then text, then `toolUse` blocks. Reasoning echoes go back as
  `reasoningContent` with their signature (and redacted reasoning as `redactedContent`), which
  is what lets a thinking model continue a tool-use turn. Reasoning without a signature cannot
  be verified by the model (it came from elsewhere) and is left out, as the OpenAI adapter
  leaves such echoes out;
- `cache_control` on a part, a tool result or the whole request becomes a `cachePoint`.
"""

from __future__ import annotations

from typing import Any

import orjson

from waystation.errors import InvalidRequest
from waystation.providers.bedrock.media import DocumentNames, file_block, image_block
from waystation.providers.refusals import Refusals

Block = dict[str, Any]
Turn = dict[str, Any]


def cache_point(cache_control: dict[str, Any] | None) -> Block:
    point: dict[str, Any] = {"type": "default"}
    if cache_control and cache_control.get("ttl") == "1h":
        point["ttl"] = "1h"
    return {"cachePoint": point}


def to_converse(
    messages: list[dict[str, Any]], refusals: Refusals
) -> tuple[list[Block], list[Turn]]:
    system: list[Block] = []
    turns: list[Turn] = []
    names = DocumentNames()
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if msg.get("name") is not None:
            refusals.refuse(f"{where}.name", "messages cannot carry a participant name")
        role = msg.get("role")
        if role in ("system", "developer"):
            system.extend(_text_blocks(msg["content"]))
        elif role == "user":
            _append(turns, "user", _user_blocks(msg["content"], where, refusals, names))
        elif role == "assistant":
            if msg.get("function_call") is not None:
                refusals.refuse(f"{where}.function_call", "use tool_calls instead")
            _append(turns, "assistant", _assistant_blocks(msg, where))
        elif role == "tool":
            _append(turns, "user", _tool_result(msg, where))
        else:
            refusals.refuse(f"{where}.role", f"the '{role}' role has no equivalent")
    return system, turns


def _append(turns: list[Turn], role: str, blocks: list[Block]) -> None:
    if not blocks:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)
    else:
        turns.append({"role": role, "content": blocks})


def _text_blocks(content: str | list[dict[str, Any]]) -> list[Block]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    blocks: list[Block] = []
    for part in content:
        if part.get("type") == "text" and part["text"]:
            blocks.append({"text": part["text"]})
            if part.get("cache_control"):
                blocks.append(cache_point(part["cache_control"]))
    return blocks


def _user_blocks(
    content: str | list[dict[str, Any]], where: str, refusals: Refusals, names: DocumentNames
) -> list[Block]:
    if isinstance(content, str):
        return [{"text": content}]
    blocks: list[Block] = []
    for j, part in enumerate(content):
        kind, at = part.get("type"), f"{where}.content[{j}]"
        block: Block | None = None
        if kind == "text":
            block = {"text": part["text"]}
        elif kind == "image_url":
            block = image_block(part, at, refusals)
        elif kind == "file":
            block = file_block(part, at, refusals, names)
        else:
            refusals.refuse(at, f"'{kind}' content parts have no Converse equivalent")
        if block is not None:
            blocks.append(block)
            if part.get("cache_control"):
                blocks.append(cache_point(part["cache_control"]))
    return blocks


def _assistant_blocks(msg: dict[str, Any], where: str) -> list[Block]:
    blocks = _reasoning_blocks(msg)
    content = msg.get("content")
    if isinstance(content, str):
        if content:
            blocks.append({"text": content})
    elif isinstance(content, list):
        for part in content:
            if part.get("type") == "text" and part.get("text"):
                blocks.append({"text": part["text"]})
                if part.get("cache_control"):
                    blocks.append(cache_point(part["cache_control"]))
            elif part.get("type") == "refusal" and part.get("refusal"):
                blocks.append({"text": part["refusal"]})
    for k, call in enumerate(msg.get("tool_calls") or ()):
        blocks.append({"toolUse": {
            "toolUseId": call["id"],
            "name": call["function"].get("name") or "",
            "input": _arguments(call["function"].get("arguments"),
                                f"{where}.tool_calls[{k}].function.arguments"),
        }})
    return blocks


def _reasoning_blocks(msg: dict[str, Any]) -> list[Block]:
    """Signed reasoning and redacted reasoning, from the content parts or the message fields."""
    parts = [p for p in msg.get("content") or () if isinstance(p, dict)
             and p.get("type") in ("reasoning", "redacted_reasoning")]
    blocks: list[Block] = []
    if parts:
        for part in parts:
            if part["type"] == "redacted_reasoning":
                blocks.append({"reasoningContent": {"redactedContent": part["data"]}})
            elif part.get("signature"):
                blocks.append({"reasoningContent": {"reasoningText": {
                    "text": part["reasoning"], "signature": part["signature"]}}})
        return blocks
    text = msg.get("reasoning") or msg.get("reasoning_content")
    if text and msg.get("reasoning_signature"):
        blocks.append({"reasoningContent": {"reasoningText": {
            "text": text, "signature": msg["reasoning_signature"]}}})
    for data in (msg.get("redacted_reasoning") or "").split("\n"):
        if data:
            blocks.append({"reasoningContent": {"redactedContent": data}})
    return blocks


def _arguments(raw: str | None, param: str) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise InvalidRequest(
            f"{param} must be a JSON object: Bedrock takes tool input as an object.", param=param
        )
    return value


def _tool_result(msg: dict[str, Any], where: str) -> list[Block]:
    call_id = msg.get("tool_call_id")
    if not call_id:
        raise InvalidRequest(
            f"{where}.tool_call_id is required: Bedrock matches each tool result to its call.",
            param=f"{where}.tool_call_id",
        )
    content = msg["content"]
    parts = [{"text": content}] if isinstance(content, str) else [
        {"text": p["text"]} for p in content if p.get("type") == "text"]
    blocks: list[Block] = [{"toolResult": {"toolUseId": call_id, "content": parts}}]
    if msg.get("cache_control"):
        blocks.append(cache_point(msg["cache_control"]))
    return blocks
