"""A trace and its spans, summarised for an agent's context (SDK `traces.get` and `traces.list_spans`).

orq-ai-sdk 4.17.13: `GET /v3/traces/{trace_id}` answers `GetTraceResponse` {trace: `TraceSummary`}
(`tracesummary.py`: name, status, started_at, duration_ms, models, usage `TraceUsage`, cost `TraceCost`, ...);
`GET /v3/traces/{trace_id}/spans?limit&page_token` answers `ListTraceSpansResponse` {object, data:
[`SpanSummary`], has_more, next_page_token} (`spansummary.py`: span_id, parent_span_id, name, type,
status, duration_ms, provider, model, usage, level, finish_reasons, ...). Every field is optional there.

The summary keeps what a reader needs (names, durations, models, tokens, errors) and at most a fixed number
of spans, saying how many more there were.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from orq_mcp.orq.models import _Lenient

# What one span's name (or status text) may take in a summary.
MAX_NAME_CHARS = 200
# Statuses that mean a span failed [INFER: OpenTelemetry's status codes, which orq's spans follow].
_ERROR_STATUSES = frozenset({"error", "failed", "failure"})


class TraceUsage(_Lenient):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None


class TraceCost(_Lenient):
    total: float | None = None
    currency: str | None = None


class TraceInfo(_Lenient):
    trace_id: str | None = None
    name: str | None = None
    status: str | None = None
    started_at: str | None = None
    duration_ms: float | None = None
    product: str | None = None
    models: list[str] | None = None
    usage: TraceUsage | None = None
    cost: TraceCost | None = None


class TraceAnswer(_Lenient):
    trace: TraceInfo | None = None


class SpanInfo(_Lenient):
    span_id: str | None = None
    parent_span_id: str | None = None
    name: str | None = None
    type: str | None = None
    status: str | None = None
    started_at: str | None = None
    duration_ms: float | None = None
    provider: str | None = None
    model: str | None = None
    usage: TraceUsage | None = None
    level: int | None = None
    finish_reasons: list[str] | None = None


class SpansPage(_Lenient):
    data: list[SpanInfo] = Field(default_factory=list)
    has_more: bool = False
    next_page_token: str | None = None


@dataclass
class SpanLine:
    name: str
    type: str | None
    status: str | None
    duration_ms: float | None
    model: str | None
    provider: str | None
    tokens: int | None
    level: int | None
    error: bool


@dataclass
class TraceReport:
    """What a trace shows: its totals, its spans in orq's order, and which failed."""

    trace_id: str
    name: str | None = None
    status: str | None = None
    duration_ms: float | None = None
    started_at: str | None = None
    models: list[str] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    cost: dict[str, Any] | None = None
    spans: list[SpanLine] = field(default_factory=list)
    spans_left_out: bool = False  # orq has more spans than the summary holds
    errors: list[str] = field(default_factory=list)


def _cut(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_NAME_CHARS:
        return text
    return text[: MAX_NAME_CHARS - 1] + "…"


def span_line(span: SpanInfo) -> SpanLine:
    failed = (span.status or "").lower() in _ERROR_STATUSES
    return SpanLine(
        name=_cut(span.name) or span.type or "span",
        type=_cut(span.type),
        status=_cut(span.status),
        duration_ms=span.duration_ms,
        model=_cut(span.model),
        provider=_cut(span.provider),
        tokens=span.usage.total_tokens if span.usage else None,
        level=span.level,
        error=failed,
    )


def build_report(trace_id: str, trace: TraceInfo | None, spans: list[SpanInfo], more: bool) -> TraceReport:
    report = TraceReport(trace_id=trace_id, spans=[span_line(span) for span in spans], spans_left_out=more)
    models = set()
    if trace is not None:
        report.name, report.status = _cut(trace.name), _cut(trace.status)
        report.duration_ms, report.started_at = trace.duration_ms, trace.started_at
        models.update(_cut(m) or "" for m in trace.models or [])
        if trace.usage is not None:
            report.usage = trace.usage.model_dump(include={"prompt_tokens", "completion_tokens", "total_tokens"})
            report.usage = {k: v for k, v in report.usage.items() if v is not None}
        if trace.cost is not None and trace.cost.total is not None:
            report.cost = {"total": trace.cost.total, "currency": trace.cost.currency}
    models.update(line.model for line in report.spans if line.model)
    report.models = sorted(m for m in models if m)
    report.errors = [line.name for line in report.spans if line.error]
    if not report.usage:
        # orq's trace may leave out the totals: add up the model spans (the ones that carry tokens) instead.
        tokens = [line.tokens for line in report.spans if line.tokens is not None]
        if tokens:
            report.usage = {"total_tokens": sum(tokens)}
    return report
