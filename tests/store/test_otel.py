"""OpenTelemetry spans from stored traces (GenAI semantic conventions)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.store import sample
from waystation.observe.otel import OtelExporter, build_exporter, span_attributes
from waystation.observe.pricing import PriceTable
from waystation.store.trace_rows import RecordedTrace

PRICES = PriceTable.load()


class FakeSpan:
    def __init__(self, name: str, options: dict[str, Any]) -> None:
        self.name, self.options = name, options
        self.status: Any = None
        self.end_time: int | None = None

    def set_status(self, status: Any) -> None:
        self.status = status

    def end(self, end_time: int | None = None) -> None:
        self.end_time = end_time


class FakeTracer:
    def __init__(self) -> None:
        self.spans: list[FakeSpan] = []

    def start_span(self, name: str, **options: Any) -> FakeSpan:
        self.spans.append(FakeSpan(name, options))
        return self.spans[-1]


def test_attributes_follow_the_genai_conventions() -> None:
    t = sample.trace(request={"model": "openai/gpt-4o-mini", "temperature": 0.2,
                              "max_tokens": 50, "messages": []},
                     thread={"id": "t1"}, contact_external_id="u1")
    attrs = span_attributes(RecordedTrace(t, PRICES.cost(t.model, t.usage)))
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == attrs["gen_ai.response.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.request.temperature"] == 0.2
    assert attrs["gen_ai.request.max_tokens"] == 50
    assert attrs["gen_ai.usage.input_tokens"] == 100
    assert attrs["gen_ai.usage.output_tokens"] == 20
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]
    assert attrs["gen_ai.response.id"] == "chatcmpl-1"
    assert attrs["gen_ai.conversation.id"] == "t1"
    assert attrs["waystation.contact_id"] == "u1"
    assert attrs["waystation.cost_usd"] > 0
    assert "error.type" not in attrs


def test_spans_carry_the_requests_own_times_and_errors() -> None:
    tracer = FakeTracer()
    ok = sample.trace(latency_ms=250.0)
    failed = sample.trace(status=502)
    OtelExporter(tracer).export([RecordedTrace(ok), RecordedTrace(failed)])
    first, second = tracer.spans
    assert first.name == "chat gpt-4o-mini"
    assert first.options["start_time"] == int(ok.created * 1e9)
    assert first.end_time == first.options["start_time"] + 250_000_000
    assert first.status is None
    assert second.options["attributes"]["error.type"] == "upstream_error"
    assert second.status is not None


def test_no_endpoint_means_no_exporter() -> None:
    assert build_exporter(None) is None


def test_an_endpoint_without_the_sdk_says_how_to_install_it(
        caplog: pytest.LogCaptureFixture) -> None:
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        with caplog.at_level(logging.WARNING, "waystation.otel"):
            assert build_exporter("http://127.0.0.1:4318") is None
        assert "waystation[otel]" in caplog.text
    else:  # the SDK is installed: a real exporter, shut down without sending anything
        exporter = build_exporter("http://127.0.0.1:4318")
        assert isinstance(exporter, OtelExporter)
        exporter.shutdown()
