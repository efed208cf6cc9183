"""Cohere: the v2 chat wire format (`POST /v2/chat`, bearer key, typed SSE events)."""
