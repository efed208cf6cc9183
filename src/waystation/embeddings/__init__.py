"""Embeddings and reranking: gateway endpoints, provider adapters and local models."""
