"""Embedding models that run inside the gateway process, offline (optional extras)."""
