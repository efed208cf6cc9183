"""Embedding and rerank adapters, one module per wire format (pure translation, no I/O)."""
