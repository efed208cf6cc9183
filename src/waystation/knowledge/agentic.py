"""Agentic RAG: a chat model, called through the gateway's own router (so its routing, keys,
retries and fallbacks apply), rewrites the query before the search and then grades each
retrieved chunk, and the chunks it judges irrelevant are dropped.

Models answer loosely, so both answers are parsed forgivingly: the rewrite is the first
meaningful line with labels, quotes and code fences taken off; the grade is a JSON list of
passage numbers found anywhere in the answer (`{"relevant": [1, 3]}`, `[1, 3]`, or the word
"none"). An answer that cannot be understood changes nothing (the original query, every chunk
kept) and says so in the trace's notes, rather than failing the caller's request.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import orjson

from waystation.core.call import ChatCall

if TYPE_CHECKING:
    from waystation.routing.runner import Runner

REWRITE_PROMPT = (
    "You rewrite questions into search queries for a document index. Answer with one short "
    "search query that keeps every name, number and technical term of the question. Answer "
    "with the query only: no explanation, no quotes.")
GRADE_PROMPT = (
    "You judge which passages help answer a question. Answer with JSON only, in the form "
    '{"relevant": [numbers of the helpful passages]}; use {"relevant": []} when none help.')
MAX_PASSAGE = 2000
_LABEL = re.compile(r"^(?:rewritten\s+)?(?:search\s+)?query\s*:\s*", re.IGNORECASE)
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
_LIST = re.compile(r"\[[^\[\]]*\]")


async def _ask(runner: Runner, model: str, system: str, user: str) -> str:
    call = ChatCall(model=model, stream=False, include_usage=False, body={
        "model": model, "messages": [{"role": "system", "content": system},
                                     {"role": "user", "content": user}]})
    answer = await runner.complete(call, [])
    choices = answer.completion.get("choices") or [{}]
    content = (choices[0].get("message") or {}).get("content")
    return content if isinstance(content, str) else ""


async def rewrite(runner: Runner, model: str, query: str, notes: list[str]) -> str:
    text = await _ask(runner, model, REWRITE_PROMPT, query)
    better = parse_rewrite(text)
    if better is None:
        notes.append("the query rewrite was empty; the original query was used")
        return query
    return better


def parse_rewrite(text: str) -> str | None:
    for line in text.replace("```", "\n").splitlines():
        line = _LABEL.sub("", line.strip()).strip().strip("\"'`").strip()
        if line:
            return line[:1000]
    return None


async def grade(runner: Runner, model: str, query: str, texts: list[str],
                notes: list[str]) -> list[bool]:
    passages = "\n\n".join(f"[{i}] {t[:MAX_PASSAGE]}" for i, t in enumerate(texts, start=1))
    text = await _ask(runner, model, GRADE_PROMPT,
                      f"Question: {query}\n\nPassages:\n{passages}")
    chosen = parse_grades(text, len(texts))
    if chosen is None:
        notes.append("the relevance grades could not be read; every chunk was kept")
        return [True] * len(texts)
    return [i in chosen for i in range(1, len(texts) + 1)]


def parse_grades(text: str, count: int) -> set[int] | None:
    """The 1-based numbers of the passages judged relevant, or None if not understood."""
    found: Any = None
    for candidate in _OBJECT.findall(text):
        try:
            value = orjson.loads(candidate)
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict):
            found = next((value[k] for k in ("relevant", "relevant_passages", "passages",
                                             "ids", "indices") if k in value), None)
            break
    if found is None:
        for candidate in _LIST.findall(text):
            try:
                found = orjson.loads(candidate)
                break
            except orjson.JSONDecodeError:
                continue
    if found is None:
        return set() if re.search(r"\bnone\b", text, re.IGNORECASE) else None
    if not isinstance(found, list):
        return None
    numbers = set()
    for item in found:
        try:
            number = int(str(item).strip().strip("[]"))
        except ValueError:
            return None
        if 1 <= number <= count:
            numbers.add(number)
    return numbers
