"""The executor against a real HTTP server on the loopback interface."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from waystation.providers.base import WireRequest
from waystation.providers.executor import Executor


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[str, list[str | None]]]:
    """A server that sets a cookie on every answer and records the Cookie header it was sent."""
    seen: list[str | None] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Cookie"))
        response = web.json_response({"ok": True})
        response.set_cookie("affinity", f"caller-{len(seen)}")
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    # by name: a cookie jar keeps no cookie from a bare IP address
    yield f"http://localhost:{port}/v1/chat/completions", seen
    await runner.cleanup()


async def test_a_providers_cookie_is_never_sent_with_the_next_request(
        upstream: tuple[str, list[str | None]]) -> None:
    url, seen = upstream
    executor = Executor(timeout=5)
    await executor.start()
    try:
        wire = WireRequest("POST", url, {"content-type": "application/json"}, b"{}")
        for _ in range(3):
            response = await executor.send(wire, "openai")
            assert response.status == 200 and "set-cookie" in response.headers
    finally:
        await executor.close()
    assert seen == [None, None, None]
