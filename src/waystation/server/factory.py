"""The app as uvicorn builds it in each worker process: settings from the environment."""

from __future__ import annotations

import gc

from waystation.config.settings import load_settings
from waystation.observe.logs import configure_logging
from waystation.server.app import Gateway, create_app

# Collect the youngest generation every 10,000 net allocations instead of 700: a request makes
# a few thousand short-lived objects, and at the default the collector ran several times per
# request and, by promoting live request objects, set off costly full collections (measured in
# bench/RESULTS.md, "What each change bought": +35 % throughput at c=64, 291 -> 210 µs of CPU
# per plain request).
GC_THRESHOLDS = (10_000, 20, 20)


def build() -> Gateway:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings)
    tune_gc()
    return app


def tune_gc() -> None:
    """Move everything alive after start-up (modules, tables, the app) out of the collector's
    sight for good, collect less often (serving creates garbage, rarely cycles), and turn the
    collector on: `serve` pauses it while the app is imported and built.

    Nothing is collected first: start-up leaves under a thousand unreachable objects among
    about 90,000, and a full collection to find them cost 50 ms of a cold start."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    gc.enable()
