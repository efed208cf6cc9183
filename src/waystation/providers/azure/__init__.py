"""Azure OpenAI: the OpenAI chat wire format at a deployment URL, keyed by an `api-key` header."""
