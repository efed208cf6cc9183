"""Knowledge bases: ingestion, storage, hybrid search, reranking and retrieval in chat."""
