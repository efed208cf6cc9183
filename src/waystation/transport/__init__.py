"""Wire-level helpers shared by providers and the server: SSE framing and HTTP sending."""
