"""Management API routes (contacts, threads, traces, usage, metrics, prompts), one module per
area."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from waystation.server.app import Gateway


def register_management_routes(app: Gateway) -> None:
    """Add every management route to `app.router` (the app's `store` and `metrics` serve them)."""
    from waystation.server.routes import (
        contacts,
        files,
        knowledge,
        prompts,
        threads,
        traces,
        usage,
    )

    for area in (contacts, traces, threads, usage, prompts, files, knowledge):
        area.register(app)
