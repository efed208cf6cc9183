"""The app as uvicorn builds it in each worker process: settings from the environment."""

from __future__ import annotations

from waystation.config.settings import load_settings
from waystation.observe.logs import configure_logging
from waystation.server.app import Gateway, create_app


def build() -> Gateway:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
