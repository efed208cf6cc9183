"""The Semanlink arXiv tagging set bundled in the `cherche` sdist: 314 arXiv papers (queries:
title + summary) tagged with 433 Semanlink tags (documents: the tag's labels and its broader
tags' labels), 1,315 (paper, tag) relevance pairs. Built as `cherche.data.arxiv_tags()` builds
it, from the JSON files alone (the package is not imported)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Collection:
    documents: dict[str, str]  # id → text
    queries: list[tuple[str, set[str]]]  # (text, relevant ids)

    @property
    def pairs(self) -> int:
        return sum(len(r) for _, r in self.queries)


def load(folder: Path) -> Collection:
    papers = json.loads((folder / "arxiv.json").read_text())
    tags = json.loads((folder / "tags.json").read_text())
    queries: list[tuple[str, set[str]]] = []
    used: dict[str, None] = {}
    for paper in papers:
        text = f"{paper['arxiv_title']} {paper['arxiv_summary']}".strip()
        relevant = {tags[t]["uri"] for t in paper["tag"]}
        queries.append((text, relevant))
        used.update(dict.fromkeys(paper["tag"]))
    documents = {}
    for tag in used:
        entry = tags[tag]
        labels = [*entry.get("prefLabel", []), *entry.get("altLabel", []),
                  *entry.get("broader_prefLabel", []), *entry.get("broader_altLabel", [])]
        documents[entry["uri"]] = " ".join(dict.fromkeys(labels))
    return Collection(documents, queries)
