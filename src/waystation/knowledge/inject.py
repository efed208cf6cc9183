"""Retrieved chunks → text in the chat messages (documented in docs/knowledge.md, "In chat").

A message that contains `{{<kb key>}}` or `{{<kb id>}}` (or the `knowledge_id` the request
used) gets the block there, in every text it appears in. Blocks with no placeholder anywhere go
to the system message: appended to the first system (or developer) message, or sent as a new
system message at the top. Each chunk is numbered and names its source (the datasource's
display name and the chunk id) so the model can cite it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from waystation.knowledge.model import Hit


@dataclass(frozen=True, slots=True)
class Block:
    names: frozenset[str]  # what a placeholder may call this knowledge base
    key: str
    text: str


def format_block(key: str, hits: list[Hit]) -> str:
    if not hits:
        return f'No context was found in the knowledge base "{key}" for this request.'
    lines = [f'Context retrieved from the knowledge base "{key}". Use it when it is relevant '
             "and cite the numbers of the passages you use, like [1]."]
    for n, hit in enumerate(hits, start=1):
        source = hit.datasource_name or "external"
        lines.append(f"\n[{n}] source: {source}; chunk: {hit.id}\n{hit.text.strip()}")
    return "\n".join(lines)


def _pattern(names: Iterable[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(r"\{\{\s*(?:" + alternatives + r")\s*\}\}")


def _replace_in(message: dict[str, Any], pattern: re.Pattern[str], text: str) -> bool:
    content = message.get("content")
    found = False
    if isinstance(content, str):
        new, count = pattern.subn(lambda _: text, content)
        if count:
            message["content"], found = new, True
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                new, count = pattern.subn(lambda _: text, part["text"])
                if count:
                    part["text"], found = new, True
    return found


def inject(messages: list[dict[str, Any]], blocks: list[Block]) -> dict[str, str]:
    """Put each block in place (mutating `messages`); returns key → "placeholder"|"system"."""
    where: dict[str, str] = {}
    leftover: list[Block] = []
    for block in blocks:
        pattern = _pattern(block.names)
        hits = [_replace_in(m, pattern, block.text) for m in messages]
        if any(hits):
            where[block.key] = "placeholder"
        else:
            leftover.append(block)
    if not leftover:
        return where
    context = "\n\n".join(b.text for b in leftover)
    system = next((m for m in messages if m.get("role") in ("system", "developer")), None)
    if system is None:
        messages.insert(0, {"role": "system", "content": context})
    elif isinstance(system.get("content"), list):
        system["content"].append({"type": "text", "text": context})
    else:
        system["content"] = f"{system.get('content') or ''}\n\n{context}".lstrip()
    for block in leftover:
        where[block.key] = "system"
    return where


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """The text of the last user message: the default query of a knowledge base."""
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(p.get("text", "") for p in content
                            if isinstance(p, dict) and p.get("type") == "text")
        return ""
    return ""
