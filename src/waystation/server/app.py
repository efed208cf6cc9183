"""The ASGI application: routing, request ids, error rendering, access log and lifespan.

`create_app(settings)` builds everything; nothing happens at import time.
"""

from __future__ import annotations

import inspect
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from waystation.api.chat_request import ChatCompletionRequest
from waystation.api.responses import ChatCompletion, ModelList
from waystation.cache import build_cache
from waystation.clock import Clock
from waystation.config.settings import Settings
from waystation.errors import GatewayError
from waystation.knowledge.engine import KnowledgeEngine
from waystation.knowledge.ingest import BackgroundIngestor
from waystation.knowledge.retrieve import ChatRetrieval
from waystation.knowledge.storage import build_backend
from waystation.observe.counting import CountingRecorder
from waystation.observe.metrics import GatewayMetrics
from waystation.observe.otel import build_exporter
from waystation.observe.pricing import PriceTable
from waystation.observe.recorder import TraceWriter
from waystation.observe.trace import NullRecorder, Recorder
from waystation.prompts.stored import PromptResolver
from waystation.providers.executor import Executor
from waystation.providers.registry import Registry
from waystation.routing.health import build_health
from waystation.routing.runner import Runner
from waystation.server.auth import Authenticator
from waystation.server.chat import ChatHandler
from waystation.server.embeddings_routes import register_embedding_routes
from waystation.server.http import ClientDisconnected, Receive, Request, Scope, Send, header_map
from waystation.server.models import ModelsHandler
from waystation.server.openapi import openapi_document
from waystation.server.routes import register_management_routes
from waystation.server.routing import Route, RouteTable
from waystation.store import Store
from waystation.store.database import database_url
from waystation.store.files import FileStore
from waystation.store.keys import KeyStore

access_log = logging.getLogger("waystation.access")
log = logging.getLogger("waystation")

CHAT_PATHS = (
    "/v2/gateway/chat/completions",
    "/v2/router/chat/completions",
    "/v2/proxy/chat/completions",
    "/v3/router/chat/completions",
    "/v1/chat/completions",
)
MODEL_PATHS = ("/v2/models", "/v3/router/models", "/v1/models")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class Gateway:
    """The ASGI callable."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        key_store: KeyStore | None = None,
        store: Store | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or Clock()
        self.registry = Registry(settings)
        self.executor = Executor(timeout=settings.upstream_timeout)
        self.store = store or Store.open(
            database_url(settings.database_url, settings.home), log_bodies=settings.log_bodies)
        self.keys = key_store or self.store.keys
        self.metrics = GatewayMetrics()
        prices = PriceTable.load(settings.prices_file, settings.provider_aliases)
        self.writer = TraceWriter(
            self.store.sink, metrics=self.metrics, capacity=settings.trace_buffer,
            prices=prices, exporter=build_exporter(settings.otel_endpoint))
        self.auth = Authenticator(self.keys, settings.master_key)
        self.health = build_health(settings, self.clock)
        self.runner = Runner(settings, self.registry, self.executor, self.clock, self.health)
        self.cache = build_cache(settings, clock=self.clock)
        self.knowledge = KnowledgeEngine(
            build_backend(settings.knowledge_database_url, settings.home), self, self.clock)
        self.chat = chat = ChatHandler(
            settings, self.runner, self.clock, NullRecorder(), self.cache,
            PromptResolver(self.store.prompts, self.clock, settings.prompt_cache_seconds),
            knowledge=ChatRetrieval(self.knowledge),
        )
        self.recorder = (self.writer if settings.traces
                         else CountingRecorder(prices, self.metrics))
        models = ModelsHandler(self.registry, self.clock)
        self.router = RouteTable()
        for p in CHAT_PATHS:
            self.router.add(Route(
                "POST", p, chat, summary="Create a chat completion (JSON, or SSE when `stream`)",
                body=ChatCompletionRequest, answer=ChatCompletion, tag="chat"))
        for p in MODEL_PATHS:
            self.router.add(Route("GET", p, models, summary="List the configured models",
                                  answer=ModelList, tag="models"))
        self.router.add(Route("GET", "/health", self._health, auth=False,
                              summary="Readiness: 200 once the gateway serves", tag="operations"))
        self.router.add(Route("GET", "/openapi.json", self._openapi, auth=False,
                              summary="This document", tag="operations"))
        self.files = FileStore(self.store.db)
        # files → chunks in the background; the engine (`self.knowledge`) is looked up per job
        self.ingestor = BackgroundIngestor(lambda: getattr(self, "knowledge", None), self.files)
        register_management_routes(self)
        self.embeddings = self.reranker = register_embedding_routes(self)
        self._openapi_body: bytes | None = None
        self.ready = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    @property
    def recorder(self) -> Recorder:
        """Where finished traces go (nothing stores them until a store is attached)."""
        return self.chat.recorder

    @recorder.setter
    def recorder(self, recorder: Recorder) -> None:
        self.chat.recorder = recorder

    async def startup(self) -> None:
        await self.store.db.start()  # migrations; an unreachable database does not stop serving
        self.writer.start()
        await self.knowledge.start()
        self.ingestor.start()
        await self.executor.start()
        await self.auth.start()
        await self.health.start()
        self.ready = True

    async def shutdown(self) -> None:
        """Stop in the reverse order of dependence: background ingestion first (it embeds
        through the executor), then the knowledge engine, then sending, then the trace writer
        (it flushes what the requests left), then the database.

        Every step runs even when one before it fails (the failure is logged): a part that
        cannot close must not keep the queued traces from being written or the database's
        connections from being closed."""
        self.ready = False
        steps: list[tuple[str, Callable[[], object]]] = [
            ("background ingestion", self.ingestor.close),
            ("knowledge engine", self.knowledge.close),
            ("model health", self.health.close),
            ("cache", self.cache.close),
            ("key refresh", self.auth.close),
            ("upstream connections", self.executor.close),
            # looked up inside the step: a stand-in without `close` fails there, not here
            ("embeddings", lambda: self.embeddings.close()),
            ("trace writer", lambda: self.writer.close(self.settings.trace_flush_seconds)),
            ("database", self.store.db.close),
        ]
        for name, close in steps:
            try:
                done = close()
                if inspect.isawaitable(done):
                    await done
            except Exception:
                log.exception("shutdown: closing the %s failed; going on with the rest", name)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers = header_map(scope)
        incoming = headers.get("x-request-id")
        request_id = incoming if incoming and _REQUEST_ID.match(incoming) else self.clock.ulid()
        path = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/")
        req = Request(scope, receive, send, request_id, headers, path, scope["method"])
        try:
            route, req.path_params = self.router.match(req.method, path)
            if route.auth:
                req.log["key"] = await self.auth.authenticate(headers.get("authorization"))
            await route.handler(req)
        except GatewayError as exc:
            if not req.started:
                await req.send_error(exc)
        except ClientDisconnected:
            req.log["error"] = "client_disconnected"
        except Exception:
            log.exception("unhandled error on %s %s (request %s)", req.method, path, request_id)
            if not req.started:
                await req.send_error(GatewayError("The gateway failed to handle this request."))
        finally:
            self._access(req, started)

    def _access(self, req: Request, started: float) -> None:
        if not access_log.isEnabledFor(logging.INFO):
            return
        fields: dict[str, Any] = {
            "method": req.method,
            "path": req.path,
            "status": req.status,
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            "request_id": req.request_id,
        }
        fields.update(req.log)
        access_log.info(
            "%s %s %s %s %.2fms %s",
            req.method,
            req.path,
            req.status,
            req.log.get("answered_by") or req.log.get("model", "-"),
            fields["latency_ms"],
            req.request_id,
            extra={"fields": fields},
        )

    async def _health(self, req: Request) -> None:
        if self.ready:
            await req.send_json(200, {"status": "ok"})
        else:
            await req.send_json(503, {"status": "starting"})

    async def _openapi(self, req: Request) -> None:
        if self._openapi_body is None:
            import orjson

            self._openapi_body = orjson.dumps(openapi_document(self))
        await req.send_bytes(200, self._openapi_body)


def create_app(settings: Settings, **kwargs: Any) -> Gateway:
    return Gateway(settings, **kwargs)
