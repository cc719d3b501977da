"""OpenTelemetry on the way out: a CLIENT span per orq request, and orq's trace id on the MCP request's span.

The MCP SDK opens a SERVER span per MCP request itself (its OpenTelemetryMiddleware, on by default, with
the MCP semantic conventions). The orq request a tool makes happens inside that span, so its CLIENT span
is the MCP span's child, and the trace id orq reports for the generation (its own tracing, in the stream's
`telemetry`) is set on the MCP span as `orq.trace_id`, so one can go from an MCP call to orq's trace.

All of it costs nothing until an OpenTelemetry SDK is configured (the `otel` extra, e.g. run under
`opentelemetry-instrument`). Spans carry the method, host and path: never a header, a query or a body.
orq's trace id is orq's data: the client scrubs it (orq/client.py) before it becomes an attribute.
"""

from __future__ import annotations

import httpx2
from opentelemetry import trace
from opentelemetry.trace import ProxyTracerProvider, SpanKind, StatusCode

SPAN = "orq_mcp.span"
ORQ_TRACE_ID = "orq.trace_id"


def tracing_configured() -> bool:
    """Whether an OpenTelemetry SDK is set up (the API alone answers with a proxy that records nothing)."""
    return not isinstance(trace.get_tracer_provider(), ProxyTracerProvider)


def instrument(http: httpx2.AsyncClient) -> None:
    """Give every request `http` sends a CLIENT span, from sending it to its response headers."""
    http.event_hooks["request"].append(_start)
    http.event_hooks["response"].append(_end)


def note_orq_trace_id(trace_id: str) -> None:
    """Record orq's trace id for this generation on the current (MCP request) span; the caller scrubs it first."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute(ORQ_TRACE_ID, trace_id)


async def _start(request: httpx2.Request) -> None:
    path = request.url.path
    attributes = {"http.request.method": request.method, "server.address": request.url.host, "url.path": path}
    tracer = trace.get_tracer("orq-mcp")
    request.extensions[SPAN] = tracer.start_span(
        f"orq {request.method} {path}", kind=SpanKind.CLIENT, attributes=attributes
    )


async def _end(response: httpx2.Response) -> None:
    span = response.request.extensions.pop(SPAN, None)
    if span is None:
        return
    span.set_attribute("http.response.status_code", response.status_code)
    if response.status_code >= 400:
        span.set_status(StatusCode.ERROR)
    span.end()
