"""OpenTelemetry export of traces, following the GenAI semantic conventions.

Optional (`pip install 'waystation[otel]'`) and off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set. Spans are made by the trace writer after a batch
is stored, with the request's own start and end times, never on the hot path; the SDK's batch
processor sends them from its own thread. The standard `OTEL_*` variables (service name,
headers, protocol details) are read by the SDK itself. No global tracer provider is installed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from waystation.observe.metrics import split_model
from waystation.observe.pricing import TokenCounts
from waystation.store.trace_rows import RecordedTrace

log = logging.getLogger("waystation.otel")

_REQUEST_PARAMS = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "top_k": "gen_ai.request.top_k",
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "seed": "gen_ai.request.seed",
}


def span_attributes(item: RecordedTrace) -> dict[str, Any]:
    """The span attributes of one trace (GenAI conventions, plus `waystation.*` extras)."""
    trace = item.trace
    provider, requested = split_model(trace.requested_model)
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.system": provider,
        "gen_ai.request.model": requested,
        "http.response.status_code": trace.status,
        "waystation.trace_id": trace.id,
        "waystation.stream": trace.stream,
        "waystation.attempts": len(trace.attempts),
    }
    if trace.model:
        answered_by, model = split_model(trace.model)
        attrs["gen_ai.response.model"] = model
        attrs["gen_ai.provider.name"] = attrs["gen_ai.system"] = answered_by
    body = trace.request or {}
    for key, name in _REQUEST_PARAMS.items():
        value = body.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            attrs[name] = value
    response = trace.response or {}
    if isinstance(response.get("id"), str):
        attrs["gen_ai.response.id"] = response["id"]
    reasons = [c.get("finish_reason") for c in response.get("choices") or []
               if isinstance(c, dict) and c.get("finish_reason")]
    if reasons:
        attrs["gen_ai.response.finish_reasons"] = reasons
    if trace.usage:
        tokens = TokenCounts.of(trace.usage)
        attrs["gen_ai.usage.input_tokens"] = tokens.prompt
        attrs["gen_ai.usage.output_tokens"] = tokens.completion
    thread = (trace.thread or {}).get("id")
    if thread:
        attrs["gen_ai.conversation.id"] = str(thread)
    optional = {
        "waystation.cost_usd": None if item.cost is None else item.cost.total,
        "waystation.cache_hit": trace.cache_hit,
        "waystation.ttft_ms": trace.ttft_ms,
        "waystation.contact_id": trace.contact_external_id or (trace.contact or {}).get("id"),
        "waystation.trace_name": trace.name,
        "waystation.key_id": trace.key_id,
    }
    attrs.update({k: v for k, v in optional.items() if v is not None})
    if trace.error or trace.status >= 400:
        error = (trace.error or {}).get("error") or {}
        attrs["error.type"] = str(error.get("code") or trace.status)
    return attrs


class OtelExporter:
    """Turns stored traces into finished spans on a tracer."""

    def __init__(self, tracer: Any, provider: Any = None) -> None:
        self._tracer = tracer
        self._provider = provider
        try:
            from opentelemetry.trace import SpanKind, Status, StatusCode

            self._kind: Any = SpanKind.CLIENT
            self._error: Any = lambda text: Status(StatusCode.ERROR, text)
        except ImportError:  # a tracer that is not OpenTelemetry's (tests)
            self._kind = None
            self._error = None

    def export(self, items: Sequence[RecordedTrace]) -> None:
        for item in items:
            trace = item.trace
            attrs = span_attributes(item)
            start = int(trace.created * 1e9)
            end = start + int((trace.latency_ms or 0.0) * 1e6)
            name = f"chat {attrs.get('gen_ai.response.model') or attrs['gen_ai.request.model']}"
            options: dict[str, Any] = {"start_time": start, "attributes": attrs}
            if self._kind is not None:
                options["kind"] = self._kind
            span = self._tracer.start_span(name, **options)
            if "error.type" in attrs and self._error is not None:
                span.set_status(self._error(str(attrs["error.type"])))
            span.end(end_time=end)

    def shutdown(self) -> None:
        if self._provider is not None:
            self._provider.shutdown()


def build_exporter(endpoint: str | None) -> OtelExporter | None:
    """An exporter when an OTLP endpoint is configured and the SDK is installed."""
    if not endpoint:
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but the OpenTelemetry SDK is not "
                    "installed; install it with: pip install 'waystation[otel]'")
        return None
    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", "")
    resource = Resource.create({} if named else {"service.name": "waystation"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    log.info("exporting traces as OpenTelemetry spans to %s", endpoint)
    return OtelExporter(provider.get_tracer("waystation"), provider)
