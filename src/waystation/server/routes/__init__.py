"""Management API routes (contacts, threads, traces, usage, …), one module per area."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from waystation.server.app import Gateway


def register_management_routes(app: Gateway) -> None:
    """Add every management route to `app.router`."""
    return None
