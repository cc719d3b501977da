"""OpenTelemetry: the SDK's span per MCP request, the orq request's span as its child, orq's trace id on it.

In process, with the OpenTelemetry SDK's in-memory exporter (the `otel` extra provides the SDK).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from typing import Any

import pytest
from mcp import Client

from orq_mcp.config.settings import Settings
from orq_mcp.orq.client import Timeouts, create_http_client
from orq_mcp.sandbox import payloads
from orq_mcp.surface.server import create_server
from tests.conftest import API_KEY, FAST_RETRY
from tests.helpers import ok

if importlib.util.find_spec("opentelemetry.sdk") is None:
    message = "the OpenTelemetry SDK is not installed (pip install 'orq-mcp[otel]')"
    if os.environ.get("CI") == "true":
        pytest.fail(message + ": CI must install it (.ci/run)", pytrace=False)
    pytest.skip(message, allow_module_level=True)

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from orq_mcp.orq.tracing import instrument, tracing_configured


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    trace.set_tracer_provider(provider)  # once per process: OpenTelemetry refuses a second provider
    yield memory
    provider.shutdown()  # the tests after these record nothing more
    memory.clear()


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


async def test_an_invocation_is_one_trace_from_mcp_to_orq(settings: Settings, exporter: InMemorySpanExporter) -> None:
    assert tracing_configured()
    exporter.clear()
    async with create_http_client(settings.base_url, Timeouts(connect=2, read=5, stream=10)) as http:
        instrument(http)
        server = create_server(settings, http_client=http, retry=FAST_RETRY)
        async with Client(server) as client:
            result = ok(await client.call_tool("invoke_deployment", {"key": "faq-assistant"}))

    spans = exporter.get_finished_spans()
    mcp = next(s for s in spans if s.name == "tools/call invoke_deployment")
    outbound = next(s for s in spans if s.name == "orq POST /v2/deployments/stream")
    assert mcp.kind == SpanKind.SERVER
    assert attributes(mcp)["gen_ai.tool.name"] == "invoke_deployment"  # the SDK's MCP semantic conventions
    assert attributes(mcp)["orq.trace_id"] == result["trace_id"]  # orq's own trace of this generation
    assert outbound.kind == SpanKind.CLIENT
    assert outbound.parent is not None
    assert outbound.parent.span_id == mcp.context.span_id  # the orq request is the MCP request's child
    assert outbound.context.trace_id == mcp.context.trace_id
    assert attributes(outbound)["http.response.status_code"] == 200
    for span in spans:
        assert API_KEY not in repr(attributes(span))
        assert settings.base_url not in repr(attributes(span))


@pytest.mark.parametrize("key", ["faq-assistant", "product-photo"], ids=["streamed", "unstreamed"])
async def test_orqs_trace_id_is_scrubbed_before_it_is_a_span_attribute(
    settings: Settings, exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    """A span leaves the process (to the collector): what orq sends for it is scrubbed like any answer."""
    monkeypatch.setattr(payloads, "trace_id", lambda: f"trace-{API_KEY}")  # a hostile or broken upstream
    exporter.clear()
    async with create_http_client(settings.base_url, Timeouts(connect=2, read=5, stream=10)) as http:
        instrument(http)
        server = create_server(settings, http_client=http, retry=FAST_RETRY)
        async with Client(server) as client:
            inputs = {"product_name": "a bike"} if key == "product-photo" else {}
            ok(await client.call_tool("invoke_deployment", {"key": key, "inputs": inputs}))
    mcp = next(s for s in exporter.get_finished_spans() if s.name == "tools/call invoke_deployment")
    assert attributes(mcp)["orq.trace_id"] == "trace-[redacted]"
    for span in exporter.get_finished_spans():
        assert API_KEY[4:16] not in repr(attributes(span)) + span.name
