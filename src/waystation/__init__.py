"""Waystation: a self-hosted AI gateway speaking the orq.ai gateway API."""

__version__ = "0.1.0"
