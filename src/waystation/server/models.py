"""`GET /v2/models`, `/v3/router/models`, `/v1/models`: the models this deployment serves."""

from __future__ import annotations

from waystation.clock import Clock
from waystation.providers.registry import Registry
from waystation.server.http import Request


class ModelsHandler:
    def __init__(self, registry: Registry, clock: Clock) -> None:
        self._registry = registry
        self._created = int(clock.now())

    async def __call__(self, req: Request) -> None:
        data = [
            {
                "id": model_id,
                "object": "model",
                "created": self._created,
                "owned_by": owner,
                "type": "chat",
            }
            for model_id, owner in self._registry.listed_models()
        ]
        await req.send_json(200, {"object": "list", "data": data, "has_more": False})
