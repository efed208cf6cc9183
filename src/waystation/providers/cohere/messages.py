"""OpenAI chat messages → Cohere v2 chat messages.

Cohere v2 is close to OpenAI: the same four roles, `tool_calls` in the OpenAI function shape,
tool results keyed by `tool_call_id`, text and `image_url` parts. What differs:

- `developer` is a system message (Cohere has no developer role);
- an assistant's reasoning echo becomes a `thinking` content item, so a thinking model sees
  its own earlier thoughts; signatures and redacted reasoning (other providers' echoes) have no
  Cohere form and are left out, as the OpenAI adapter leaves them out;
- an assistant's text next to `tool_calls` is Cohere's `tool_plan` (that is where the answer's
  `tool_plan` came from, see `response.py`), so a tool-use turn round-trips unchanged;
- audio and file parts, message `name`s and the `function` role have no Cohere form: refused.
"""

from __future__ import annotations

from typing import Any

from waystation.errors import InvalidRequest
from waystation.providers.refusals import Refusals

Message = dict[str, Any]


def to_cohere_messages(messages: list[Message], refusals: Refusals) -> list[Message]:
    out: list[Message] = []
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if msg.get("name") is not None:
            refusals.refuse(f"{where}.name", "messages cannot carry a participant name")
        role = msg.get("role")
        if role in ("system", "developer"):
            out.append({"role": "system", "content": _text_content(msg["content"])})
        elif role == "user":
            out.append({"role": "user", "content": _user_content(msg["content"], where, refusals)})
        elif role == "assistant":
            if msg.get("function_call") is not None:
                refusals.refuse(f"{where}.function_call", "use tool_calls instead")
            out.append(_assistant(msg))
        elif role == "tool":
            out.append(_tool_result(msg, where))
        else:
            refusals.refuse(f"{where}.role", f"the '{role}' role has no equivalent")
    return out


def _text_content(content: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    return [{"type": "text", "text": p["text"]} for p in content if p.get("type") == "text"]


def _user_content(
    content: str | list[dict[str, Any]], where: str, refusals: Refusals
) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        kind = part.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": part["text"]})
        elif kind == "image_url":
            image = {k: v for k, v in part["image_url"].items() if v is not None}
            parts.append({"type": "image_url", "image_url": image})
        else:
            refusals.refuse(f"{where}.content[{j}]", f"'{kind}' content parts have no equivalent")
    return parts


def _assistant(msg: Message) -> Message:
    texts, thoughts = _assistant_parts(msg)
    out: Message = {"role": "assistant"}
    calls = msg.get("tool_calls")
    if calls:
        out["tool_calls"] = [
            {"id": c["id"], "type": "function",
             "function": {"name": c["function"].get("name") or "",
                          "arguments": c["function"].get("arguments") or "{}"}}
            for c in calls
        ]
        if texts:
            out["tool_plan"] = "".join(texts)
            texts = []
    content = [{"type": "thinking", "thinking": t} for t in thoughts]
    content += [{"type": "text", "text": t} for t in texts]
    if content:
        out["content"] = content
    elif not calls:
        out["content"] = ""
    return out


def _assistant_parts(msg: Message) -> tuple[list[str], list[str]]:
    """The answer's text pieces and reasoning pieces, from the message fields and its parts."""
    texts: list[str] = []
    thoughts: list[str] = []
    reasoning = msg.get("reasoning") or msg.get("reasoning_content")
    if reasoning:
        thoughts.append(reasoning)
    content = msg.get("content")
    if isinstance(content, str) and content:
        texts.append(content)
    elif isinstance(content, list):
        for part in content:
            kind = part.get("type")
            if kind == "text" and part.get("text"):
                texts.append(part["text"])
            elif kind == "refusal" and part.get("refusal"):
                texts.append(part["refusal"])
            elif kind == "reasoning" and part.get("reasoning") and not reasoning:
                thoughts.append(part["reasoning"])
    if msg.get("refusal") and not texts:
        texts.append(msg["refusal"])
    return texts, thoughts


def _tool_result(msg: Message, where: str) -> Message:
    call_id = msg.get("tool_call_id")
    if not call_id:
        raise InvalidRequest(
            f"{where}.tool_call_id is required: Cohere matches each tool result to its call.",
            param=f"{where}.tool_call_id",
        )
    return {"role": "tool", "tool_call_id": call_id, "content": _text_content(msg["content"])}
