"""Prompt variables ({{name}}) and stored prompts."""
