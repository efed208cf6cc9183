"""providers/openai_compat package."""
