"""Retrieval quality and scale benchmark, run in-process against the knowledge engine
(`Gateway.knowledge`, a `KnowledgeService`, and its `Searcher`).

    python bench/retrieval/fetch.py          # once: the Semanlink JSON files
    python bench/retrieval/run.py quality    # nDCG@10, recall@10 per model and search mode
    python bench/retrieval/run.py scale      # ingestion chunks/s, search p50/p99 at 10k, 100k

Quality: the 433 tag documents are indexed as chunks (one per document, embedded by the
engine with the knowledge base's model) and the 314 paper queries are searched with each
mode; "reranked" is hybrid search whose top 40 are reordered by the rerank model. Scale:
generated sentences (a seeded vocabulary) are added in batches of 256 through `add_chunks`
and 200 searches per mode are timed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from dataset import load
from fetch import fetch
from metrics import ndcg_at_k, percentile, recall_at_k

from waystation.config.settings import load_settings
from waystation.knowledge.ports import NewChunk
from waystation.knowledge.search import Searcher, plan_search
from waystation.server.app import Gateway, create_app

MODELS = ("local/wordllama", "local/all-minilm-l6-v2")
MODES = ("vector_search", "keyword_search", "hybrid_search")
BATCH = 256


async def _gateway(home: Path) -> Gateway:
    app = create_app(load_settings({"WAYSTATION_HOME": str(home),
                                    "WAYSTATION_MASTER_KEY": "bench"}))
    await app.startup()
    return app


async def _kb(app: Gateway, key: str, model: str) -> str:
    await app.knowledge.create_kb({"key": key, "path": f"bench/{key}", "embedding_model": model})
    ds = await app.knowledge.create_datasource(key, display_name=key)
    return str(ds["_id"])


async def _add(app: Gateway, key: str, ds: str, chunks: list[NewChunk]) -> float:
    started = time.perf_counter()
    for i in range(0, len(chunks), BATCH):
        await app.knowledge.add_chunks(key, ds, chunks[i:i + BATCH])
    return time.perf_counter() - started


async def quality(home: Path, models: tuple[str, ...]) -> list[str]:
    collection = load(fetch())
    app = await _gateway(home)
    searcher = Searcher(app.knowledge)
    rows = ["| model | search | nDCG@10 | recall@10 |", "|---|---|---|---|"]
    try:
        for model in models:
            key = "q-" + model.split("/")[-1]
            ds = await _kb(app, key, model)
            await _add(app, key, ds, [NewChunk(text, {"doc": doc})
                                      for doc, text in collection.documents.items()])
            kb = await app.knowledge.kb_row(key)  # read after the first vectors fix its size
            modes: list[tuple[str, dict[str, Any]]] = [(m, {"search_type": m}) for m in MODES]
            for reranker in models:
                modes.append((f"hybrid + rerank ({reranker.split('/')[-1]})", {
                    "search_type": "hybrid_search", "top_k": 40,
                    "rerank_config": {"model": reranker, "top_k": 10, "threshold": 0}}))
            for label, request in modes:
                ndcg, recall = await _score(searcher, kb, request, collection.queries)
                rows.append(f"| {model} | {label} | {ndcg:.3f} | {recall:.3f} |")
                print(rows[-1], flush=True)
    finally:
        await app.shutdown()
    return rows


async def _score(searcher: Searcher, kb: dict[str, Any], request: dict[str, Any],
                 queries: list[tuple[str, set[str]]]) -> tuple[float, float]:
    ndcgs, recalls = [], []
    for text, relevant in queries:
        body = {"top_k": 10, "search_options": {"include_metadata": True}, **request}
        outcome = await searcher.search(kb, plan_search(kb, body, text))
        ranked = [str(m["metadata"]["doc"]) for m in outcome.matches(
            plan_search(kb, body, text))][:10]
        ndcgs.append(ndcg_at_k(ranked, relevant))
        recalls.append(recall_at_k(ranked, relevant))
    return sum(ndcgs) / len(ndcgs), sum(recalls) / len(recalls)


def _sentences(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    words = [f"{a}{b}" for a in ("ka", "lo", "mi", "nu", "pe", "ro", "si", "tu", "va", "ze")
             for b in ("ran", "bel", "cor", "dit", "fen", "gol", "hum", "jin", "mas", "tor")]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(12, 40))) + "."
            for _ in range(n)]


async def scale(home: Path, sizes: tuple[int, ...], model: str) -> list[str]:
    app = await _gateway(home)
    searcher = Searcher(app.knowledge)
    rows = ["| chunks | model | ingest chunks/s | search | p50 ms | p99 ms |",
            "|---|---|---|---|---|---|"]
    try:
        for size in sizes:
            key = f"s{size}"
            ds = await _kb(app, key, model)
            texts = _sentences(size)
            seconds = await _add(app, key, ds, [NewChunk(t, {"n": i}) for i, t in
                                                enumerate(texts)])
            kb = await app.knowledge.kb_row(key)
            rate = size / seconds
            queries = random.Random(1).sample(texts, 200)
            for mode in MODES:
                laps = []
                for text in queries:
                    query = " ".join(text.split()[:6])
                    started = time.perf_counter()
                    await searcher.search(kb, plan_search(kb, {"search_type": mode,
                                                               "top_k": 10}, query))
                    laps.append((time.perf_counter() - started) * 1000)
                rows.append(f"| {size:,} | {model} | {rate:,.0f} | {mode} | "
                            f"{percentile(laps, 50):.1f} | {percentile(laps, 99):.1f} |")
                print(rows[-1], flush=True)
    finally:
        await app.shutdown()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("quality", "scale"))
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--sizes", nargs="*", type=int, default=[10_000, 100_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        if args.what == "quality":
            rows = asyncio.run(quality(Path(home), tuple(args.models)))
        else:
            rows = asyncio.run(scale(Path(home), tuple(args.sizes), args.models[0]))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
