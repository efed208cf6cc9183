"""Provider-neutral shapes: the call, stream accumulation and finish reasons."""
