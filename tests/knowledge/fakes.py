"""Small deterministic stand-ins for the gateway's embedding and rerank services.

`WordEmbeddings` hashes each word (lower-cased, crude plural stripping) into one of `dims`
buckets, so texts sharing words point the same way: cosine similarity then tracks word overlap,
which lets tests state the right answer of a vector search by reading the corpus.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any

from waystation.clock import Clock
from waystation.embeddings.base import Embeddings, Ranked

_WORD = re.compile(r"\w+")
STOP = {"the", "a", "an", "of", "and", "or", "to", "is", "in", "on", "for", "how", "what",
        "do", "i", "my", "does", "with", "it", "are", "be", "can"}


def words(text: str) -> list[str]:
    out = []
    for w in _WORD.findall(text.lower()):
        if w in STOP:
            continue
        out.append(w[:-1] if w.endswith("s") and len(w) > 3 else w)
    return out


def word_vector(text: str, dims: int) -> list[float]:
    vec = [0.0] * dims
    for w in words(text):
        vec[int(hashlib.sha256(w.encode()).hexdigest(), 16) % dims] += 1.0
    norm = math.sqrt(sum(x * x for x in vec)) or 1.0
    return [x / norm for x in vec]


@dataclass
class WordEmbeddings:
    dims: int = 64
    calls: list[tuple[str, list[str], str | None]] = field(default_factory=list)

    async def embed(self, model: str, texts: list[str], *,
                    input_type: str | None = None) -> Embeddings:
        self.calls.append((model, list(texts), input_type))
        return Embeddings([word_vector(t, self.dims) for t in texts], model)

    def close(self) -> None:
        """The gateway closes its embeddings service at shutdown; this one holds nothing."""


@dataclass
class OverlapReranker:
    """Relevance = share of the query's words found in the document."""

    calls: list[tuple[str, str, list[str], int | None]] = field(default_factory=list)

    async def rerank(self, model: str, query: str, documents: list[str],
                     top_n: int | None = None) -> list[Ranked]:
        self.calls.append((model, query, list(documents), top_n))
        wanted = set(words(query))
        scored = [Ranked(i, len(wanted & set(words(d))) / (len(wanted) or 1))
                  for i, d in enumerate(documents)]
        scored.sort(key=lambda r: (-r.score, r.index))
        return scored[:top_n] if top_n else scored


@dataclass
class ScriptedRunner:
    """Answers chat calls with queued texts, recording the calls (agentic RAG tests)."""

    answers: list[str]
    calls: list[Any] = field(default_factory=list)

    async def complete(self, call: Any, attempts: list[Any]) -> Any:
        self.calls.append(call)
        text = self.answers.pop(0)

        @dataclass
        class _Answer:
            completion: dict[str, Any]

        return _Answer({"choices": [{"message": {"role": "assistant", "content": text}}]})


@dataclass
class Parts:
    embeddings: Any = field(default_factory=WordEmbeddings)
    reranker: Any = field(default_factory=OverlapReranker)
    runner: Any = None
    executor: Any = None


def clock() -> Clock:
    return Clock()
