"""What every fake provider server shares; each fake adds only its wire format.

A fake is an aiohttp app on 127.0.0.1 (a free port), run on its own event loop in a thread,
so that synchronous SDK clients in tests can use it as well as the gateway. It records every
request and misbehaves on demand: a queue of `Fault`s, each used by the next request for its
model (or any), that hang, reset the connection, answer an error status or cut a stream short.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar

import orjson
import pytest
from aiohttp import web


@dataclass
class Fault:
    """One scripted misbehaviour, used by the next request that matches `model` (or any)."""

    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0  # seconds to wait before answering (or before the first chunk)
    reset: bool = False  # close the connection without an answer
    die_after_chunks: int | None = None  # stream: cut the connection after N chunks
    chunk_delay: float = 0.0  # stream: seconds between chunks
    model: str | None = None


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def sample_for_schema(schema: dict[str, Any]) -> Any:
    """A value of the JSON Schema's shape: what a model asked for structured output returns."""
    kind = schema.get("type")
    if kind == "object":
        return {k: sample_for_schema(v) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [sample_for_schema(schema.get("items") or {"type": "string"})]
    if kind in ("number", "integer"):
        return 42
    if kind == "boolean":
        return True
    if "enum" in schema:
        return schema["enum"][0]
    return "sample"


class FakeServer:
    """Lifecycle, recording and fault injection; a subclass adds its routes in `_add_routes`."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.faults: deque[Any] = deque()
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.endpoint

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"{type(self).__name__} did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._startup())
        self._ready.set()
        self._loop.run_forever()

    def _add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def _startup(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        self._add_routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- scripting -------------------------------------------------------------------------
    def add_fault(self, fault: Any, times: int = 1) -> None:
        for _ in range(times):
            self.faults.append(fault)

    def reset(self) -> None:
        self.requests.clear()
        self.faults.clear()

    def _record(self, request: web.Request, body: dict[str, Any], path: str = "") -> None:
        self.requests.append(Recorded(path or request.path, dict(request.headers), body))

    def _take_fault(self, model: str) -> Any:
        """The first queued fault for `model` (or for any model), taken off the queue."""
        for fault in list(self.faults):
            if fault.model is None or fault.model == model:
                self.faults.remove(fault)
                return fault
        return None

    async def _answer_fault(self, request: web.Request, fault: Any) -> web.StreamResponse | None:
        """What a fault does before the answer: wait `hang` seconds, then drop the connection
        (`reset`) or answer its error `status`. None: answer the request (a stream the fault
        may still cut short)."""
        if fault is None:
            return None
        if fault.hang:
            await asyncio.sleep(fault.hang)
        if fault.reset:
            self._hang_up(request)
            return web.Response()
        if fault.status:
            return self._fault_response(fault)
        return None

    def _fault_response(self, fault: Any) -> web.Response:
        """The injected error status, with the fault's body or else `_fault_body`."""
        payload = fault.body if fault.body is not None else self._fault_body(fault.status)
        data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        return web.Response(body=data, status=fault.status, headers=fault.headers,
                            content_type="application/json")

    def _fault_body(self, status: int) -> Any:
        """The error body of an injected status when the fault gives none (JSON null here)."""
        return None

    # -- streams ---------------------------------------------------------------------------
    @staticmethod
    async def _open_stream(request: web.Request,
                           content_type: str = "text/event-stream") -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": content_type})
        await resp.prepare(request)
        return resp

    @staticmethod
    def _hang_up(request: web.Request, *, flush: bool = False) -> None:
        """Drop the connection without a proper end: at once, or (`flush`) after sending what
        was written so far."""
        assert request.transport is not None
        if flush:
            request.transport.close()
        else:
            request.transport.abort()


S = TypeVar("S", bound=FakeServer)


def module_fake(factory: Callable[[], S]) -> Any:
    """A pytest fixture: one started `factory()` server for the whole test module."""

    @pytest.fixture(scope="module")
    def fake() -> Iterator[S]:
        server = factory().start()
        yield server
        server.stop()

    return fake
