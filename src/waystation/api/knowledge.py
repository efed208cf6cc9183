"""The knowledge-base management API's wire contract (orq API §6.1): what callers send.

Unknown fields are refused, as everywhere in the gateway. Numbers typed as floats by the orq
SDKs (`"top_k": 5.0`) validate as integers. Answers are built by `knowledge.records`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from waystation.api import LazyModel
from waystation.api.chat_request import AgenticRagConfig, RerankConfig, SearchOptions

SearchType = Literal["vector_search", "keyword_search", "hybrid_search"]
TopK = Annotated[int, Field(ge=1, le=100)]
Unit = Annotated[float, Field(ge=0, le=1)]
Key = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Text = Annotated[str, Field(max_length=100_000)]


class _Strict(LazyModel):
    model_config = ConfigDict(extra="forbid")


class RerankSettings(_Strict):
    rerank_model: str = Field(min_length=1)
    top_k: TopK = 5
    rerank_threshold: Unit = 0.5


class AgenticSettings(_Strict):
    model: str = Field(min_length=1)


class RetrievalSettings(_Strict):
    """A knowledge base's defaults; a search or a chat request overrides them field by field."""

    retrieval_type: SearchType = "hybrid_search"
    top_k: TopK = 5
    threshold: Unit = 0.0
    rerank_config: RerankSettings | None = None  # null: no rerank
    agentic_rag_config: AgenticSettings | None = None  # null: no agentic RAG


class ExternalConfig(_Strict):
    name: str = Field(min_length=1, max_length=255)
    api_url: str = Field(min_length=8, max_length=2048, pattern=r"^https?://")
    api_key: str = Field(min_length=1, max_length=4096)


class ExternalConfigUpdate(_Strict):
    name: str | None = Field(None, min_length=1, max_length=255)
    api_url: str | None = Field(None, min_length=8, max_length=2048, pattern=r"^https?://")
    api_key: str | None = Field(None, min_length=1, max_length=4096)


class KnowledgeCreate(_Strict):
    type: Literal["internal", "external"] = "internal"
    key: Key
    embedding_model: str | None = Field(None, min_length=3, max_length=255)
    path: str | None = Field(None, max_length=1024)
    description: str | None = Field(None, max_length=4096)
    retrieval_settings: RetrievalSettings | None = None
    external_config: ExternalConfig | None = None


class KnowledgeUpdate(_Strict):
    key: Key | None = None
    embedding_model: str | None = Field(None, min_length=3, max_length=255)
    path: str | None = Field(None, max_length=1024)
    description: str | None = Field(None, max_length=4096)
    retrieval_settings: RetrievalSettings | None = None
    external_config: ExternalConfigUpdate | None = None


class ChunkingConfiguration(_Strict):
    type: Literal["default", "advanced"] = "default"
    chunk_max_characters: Annotated[int, Field(ge=50, le=100_000)] = 500
    chunk_overlap: Annotated[int, Field(ge=0, le=50_000)] = 0


class ChunkingCleanup(_Strict):
    delete_emails: bool | None = None
    delete_credit_cards: bool | None = None
    delete_phone_numbers: bool | None = None
    clean_bullet_points: bool | None = None
    clean_numbered_list: bool | None = None
    clean_unicode: bool | None = None
    clean_dashes: bool | None = None
    clean_whitespaces: bool | None = None


class ChunkingOptionsBody(_Strict):
    chunking_configuration: ChunkingConfiguration | None = None
    chunking_cleanup_options: ChunkingCleanup | None = None


class DatasourceCreate(_Strict):
    display_name: str | None = Field(None, max_length=1024)
    description: str | None = Field(None, max_length=4096)
    file_id: str | None = Field(None, min_length=1, max_length=128)
    chunking_options: ChunkingOptionsBody | None = None
    metadata: dict[str, Any] | None = None


class DatasourceUpdate(_Strict):
    display_name: str = Field(min_length=1, max_length=1024)
    description: str | None = Field(None, max_length=4096)


class ChunkIn(_Strict):
    text: Text = Field(min_length=1)
    embedding: list[float] | None = Field(None, min_length=1, max_length=16_000)
    metadata: dict[str, Any] | None = None


class ChunkUpdate(_Strict):
    text: Text | None = Field(None, min_length=1)
    embedding: list[float] | None = Field(None, min_length=1, max_length=16_000)
    metadata: dict[str, Any] | None = None


class ChunkEnabled(_Strict):
    enabled: bool


class ChunkDelete(_Strict):
    chunk_ids: list[str] = Field(min_length=1, max_length=1000)


class ChunkCount(_Strict):
    q: str | None = None
    enabled: bool | None = None
    status: str | None = None


class ChunkListBody(ChunkCount):
    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    page: Annotated[int, Field(ge=1)] = 1


class SearchBody(_Strict):
    query: str = Field(min_length=1, max_length=10_000)
    top_k: TopK | None = None
    threshold: Unit | None = None
    search_type: SearchType | None = None
    filter_by: dict[str, Any] | None = None
    search_options: SearchOptions | None = None
    rerank_config: RerankConfig | None = None
    agentic_rag_config: AgenticRagConfig | None = None
