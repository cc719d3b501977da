"""Traces the emulator records for every generation it serves, in the SDK's `/v3/traces` shapes.

One trace per deployment invocation (get_config calls no model and records none) and per agent response,
under the `telemetry.trace_id` that response carried. Its spans: the root (the deployment or the agent),
a model span with the tokens, and one span per tool call. Served as `GetTraceResponse` {trace: TraceSummary}
and `ListTraceSpansResponse` (orq-ai-sdk 4.17.13, `tracesummary.py`, `spansummary.py`). orq's span names,
types and statuses are not in the SDK (all strings): these follow OpenTelemetry's GenAI names [INFER].
The store keeps the newest `MAX_TRACES` traces, so a long-running sandbox stays bounded.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .ids import span_id

MAX_TRACES = 1_000


@dataclass
class Span:
    name: str
    type: str
    duration_ms: float
    model: str | None = None
    provider: str | None = None
    usage: dict[str, int] | None = None
    status: str = "ok"
    children: list[Span] = field(default_factory=list)
    id: str = field(default_factory=span_id)  # fixed at creation, so every page of spans agrees


@dataclass
class Trace:
    trace_id: str
    product: str  # deployments or agents (the SDK's feedback `product` names)
    root: Span
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    def spans(self) -> list[dict[str, Any]]:
        """Every span, depth first (parents before children), as `SpanSummary` objects."""
        out: list[dict[str, Any]] = []
        self._walk(self.root, None, 0, self.started, out)
        return out

    def _walk(self, span: Span, parent: str | None, level: int, start: datetime, out: list[dict[str, Any]]) -> None:
        own = span.id
        summary: dict[str, Any] = {
            "object": "span",
            "trace_id": self.trace_id,
            "span_id": own,
            "name": span.name,
            "type": span.type,
            "status": span.status,
            "started_at": _iso(start),
            "ended_at": _iso(start + timedelta(milliseconds=span.duration_ms)),
            "duration_ms": span.duration_ms,
            "level": level,
            "has_children": bool(span.children),
            "has_detail": False,
        }
        if parent is not None:
            summary["parent_span_id"] = parent
        if span.model is not None:
            summary["model"] = span.model
        if span.provider is not None:
            summary["provider"] = span.provider
        if span.usage is not None:
            summary["usage"] = dict(span.usage)
        out.append(summary)
        offset = 0.0
        for child in span.children:
            self._walk(child, own, level + 1, start + timedelta(milliseconds=offset), out)
            offset += child.duration_ms

    def summary(self) -> dict[str, Any]:
        """The `TraceSummary`: totals over the model spans."""
        models = [s for s in _all(self.root) if s.type == "llm"]
        usage = {name: sum((s.usage or {}).get(name, 0) for s in models) for name in _TOKENS}
        failed = any(s.status == "error" for s in _all(self.root))
        return {
            "object": "trace",
            "trace_id": self.trace_id,
            "name": self.root.name,
            "status": "error" if failed else "ok",
            "started_at": _iso(self.started),
            "ended_at": _iso(self.started + timedelta(milliseconds=self.root.duration_ms)),
            "duration_ms": self.root.duration_ms,
            "product": self.product,
            "providers": sorted({s.provider for s in models if s.provider}),
            "models": sorted({s.model for s in models if s.model}),
            "usage": usage,
        }


_TOKENS = ("prompt_tokens", "completion_tokens", "total_tokens")


def _all(span: Span) -> list[Span]:
    return [span, *(s for child in span.children for s in _all(child))]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def generation_trace(trace_id: str, key: str, model: str, provider: str, prompt: int, completion: int) -> Trace:
    """A deployment invocation's trace: the deployment, and the model call with its tokens."""
    llm = Span(f"chat {model}", "llm", 840.0, model=model, provider=provider, usage=tokens(prompt, completion))
    return Trace(trace_id, "deployments", Span(f"deployment {key}", "deployment", 860.0, children=[llm]))


def tokens(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class TraceStore:
    """Traces by id, newest last; `aliases` maps a response's own id to its trace (feedback takes either)."""

    def __init__(self, limit: int = MAX_TRACES) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._traces: OrderedDict[str, Trace] = OrderedDict()
        self._aliases: OrderedDict[str, str] = OrderedDict()

    def add(self, trace: Trace, *aliases: str) -> None:
        with self._lock:
            self._traces[trace.trace_id] = trace
            for alias in aliases:
                self._aliases[alias] = trace.trace_id
            while len(self._traces) > self._limit:
                self._traces.popitem(last=False)
            while len(self._aliases) > self._limit * 2:
                self._aliases.popitem(last=False)

    def get(self, trace_id: str) -> Trace | None:
        with self._lock:
            return self._traces.get(trace_id)

    def resolve(self, trace_or_response_id: str) -> Trace | None:
        """The trace named by its id or by the id of the response that made it."""
        with self._lock:
            trace_id = self._aliases.get(trace_or_response_id, trace_or_response_id)
            return self._traces.get(trace_id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._traces)
