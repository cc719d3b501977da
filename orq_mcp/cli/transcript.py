"""A recorded conversation with the orq API (`orq-mcp check --live --record FILE`) and what it shows.

Each exchange keeps the request we sent and orq's raw answer (status, content type, body text), so a
transcript can be replayed to the client later (`orq_mcp.sandbox.replay`) and read by a person.
`findings` answers the questions the SDKs leave open (docs/orq-api.md, Unverified) from those raw answers.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

FORMAT = "orq-mcp-transcript/1"
NOT_OBSERVABLE = "not observable with mock_response (needs a paid model call)"
NON_CHAT_PREFIX = "non_chat:"  # exchange names of the mocked non-chat invocations, e.g. "non_chat:tts"


@dataclass
class Exchange:
    name: str  # what the exchange asks, e.g. "stream" or "get_config"
    method: str
    path: str
    request: dict[str, Any] | None
    status: int
    content_type: str
    body: str
    complete: bool = True  # False: cut at the size cap or the time limit


@dataclass
class Transcript:
    orq_mcp_version: str
    recorded_at: str
    deployment: str | None
    mock_response: str
    exchanges: list[Exchange] = field(default_factory=list)
    findings: dict[str, Any] = field(default_factory=dict)

    def exchange(self, name: str) -> Exchange | None:
        return next((e for e in self.exchanges if e.name == name), None)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"format": FORMAT, **asdict(self)}, indent=2, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: Path) -> Transcript:
        data = json.loads(path.read_text())
        if data.pop("format", None) != FORMAT:
            raise ValueError(f"{path.name} is not an {FORMAT} transcript")
        exchanges = [Exchange(**e) for e in data.pop("exchanges", [])]
        return cls(**data, exchanges=exchanges)


def sse_data(body: str) -> list[tuple[str, str]]:
    """(event name, data) of each event in an SSE body; enough for analysis, not a full parser."""
    events: list[tuple[str, str]] = []
    name, data = "message", []
    for line in [*body.replace("\r\n", "\n").split("\n"), ""]:
        if not line:
            if data:
                events.append((name, "\n".join(data)))
            name, data = "message", []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif line.startswith("event:"):
            name = line[6:].strip()
    return events


def analyse(transcript: Transcript) -> dict[str, Any]:
    findings: dict[str, Any] = {
        "tool_call_fragments": NOT_OBSERVABLE,
        "reasoning_signature_and_redacted_reasoning": NOT_OBSERVABLE,
        "non_chat_provider_response": NOT_OBSERVABLE,
    }
    stream = transcript.exchange("stream")
    if stream is not None:
        findings.update(_stream_findings(stream, transcript.mock_response))
    config = transcript.exchange("get_config")
    if config is not None:
        findings["get_config_renders_inputs"] = _renders(config)
    findings.update(_runtime_findings(transcript))
    statuses = ("invoke", "invoke_stream_flag", "versions", "stream_unknown_key", "stream_non_chat", *_RUNTIME_READS)
    for name in statuses:
        exchange = transcript.exchange(name)
        if exchange is not None:
            findings[name] = {"status": exchange.status, "content_type": exchange.content_type}
    parts = transcript.exchange("get_config_assistant_parts")
    if parts is not None:
        findings["get_config_accepts_assistant_parts"] = parts.status == 200 or f"HTTP {parts.status}"
    findings["error_body_keys"] = {e.name: _keys(e) for e in transcript.exchanges if e.status >= 400}
    non_chat = [e for e in transcript.exchanges if e.name.startswith(NON_CHAT_PREFIX)]
    findings["non_chat_mocked_answers"] = {e.name.removeprefix(NON_CHAT_PREFIX): _answer_shape(e) for e in non_chat}
    findings["status_204"] = [e.name for e in transcript.exchanges if e.status == 204] or "none seen"
    errors = [e.name for e in transcript.exchanges if any(n == "error" or _is_error(d) for n, d in _events(e))]
    findings["error_events"] = errors or "none seen"
    return findings


# The free reads of agents, knowledge bases and traces (probe.py, `_probe_runtime`).
_RUNTIME_READS = (
    "list_agents",
    "get_agent",
    "list_knowledge",
    "get_agent_unknown",
    "agent_task_unknown",
    "trace_unknown",
)


def _runtime_findings(transcript: Transcript) -> dict[str, Any]:
    """What an agent's manifest shows: the shape of its `variables` and the fields of its tools."""
    found: dict[str, Any] = {}
    agent = transcript.exchange("get_agent")
    body = _json(agent) if agent is not None else None
    if isinstance(body, dict):
        variables = body.get("variables")
        found["agent_variables_shape"] = (
            {k: type(v).__name__ for k, v in variables.items()} if isinstance(variables, dict) else "absent"
        )
        tools = ((body.get("settings") or {}).get("tools") or []) if isinstance(body.get("settings"), dict) else []
        found["agent_tool_fields"] = sorted({k for t in tools if isinstance(t, dict) for k in t}) or "no tools"
    return found


def _events(exchange: Exchange) -> list[tuple[str, str]]:
    return sse_data(exchange.body) if exchange.content_type == "text/event-stream" else []


def _chunks(exchange: Exchange) -> list[dict[str, Any]]:
    chunks = []
    for _, data in _events(exchange):
        try:
            chunk = json.loads(data)
        except ValueError:
            continue
        if isinstance(chunk, dict) and isinstance(chunk.get("choices"), list):
            chunks.append(chunk)
    return chunks


def _content(chunk: dict[str, Any]) -> str | None:
    choices = chunk["choices"]
    message = choices[0].get("message") if choices and isinstance(choices[0], dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    return content if isinstance(content, str) else None


def _stream_findings(stream: Exchange, mock: str) -> dict[str, Any]:
    chunks = _chunks(stream)
    if stream.status != 200 or not chunks:
        return {"stream_content": f"not observed (HTTP {stream.status}, {len(chunks)} chunks)"}
    pieces = [c for c in (_content(chunk) for chunk in chunks if not chunk.get("is_final")) if c]
    final = [chunk for chunk in chunks if chunk.get("is_final")]
    return {
        "stream_content": _mode(pieces, mock),
        "stream_chunks": len(chunks),
        "final_chunk": _final(final[-1], mock) if final else "no chunk had is_final",
        "done_sentinel": any(d.strip() == "[DONE]" for _, d in _events(stream)),
        "usage_on": "final chunk" if final and final[-1].get("usage") else "not on the final chunk",
    }


def _mode(pieces: list[str], mock: str) -> str:
    if len(pieces) <= 1:
        return "undecided (the text came in one piece)" if "".join(pieces) == mock else "unclear"
    if "".join(pieces) == mock:
        return "delta"
    growing = all(b.startswith(a) for a, b in pairwise(pieces))
    return "cumulative" if growing and pieces[-1] == mock else "unclear"


def _final(chunk: dict[str, Any], mock: str) -> str:
    content = _content(chunk)
    if not content:
        return "empty"
    return "repeats the whole text" if content == mock else "carries new text"


def _renders(exchange: Exchange) -> bool | str:
    inputs = (exchange.request or {}).get("inputs") or {}
    if exchange.status != 200:
        return f"not observed (HTTP {exchange.status})"
    if not inputs:
        return "not observed (the deployment has no variables)"
    return all(str(value) in exchange.body for value in inputs.values())


def _json(exchange: Exchange) -> Any:
    try:
        return json.loads(exchange.body) if exchange.content_type == "application/json" else None
    except ValueError:
        return None


def _keys(exchange: Exchange) -> list[str] | str:
    """The top-level keys of an error body: which of the documented shapes orq used (docs/orq-api.md, Errors)."""
    body = _json(exchange)
    return sorted(body) if isinstance(body, dict) else f"not a JSON object ({exchange.content_type})"


def _answer_shape(exchange: Exchange) -> str:
    """How a mocked non-chat answer came: its status, `object`, message types and `provider_response` keys."""
    body = _json(exchange)
    if exchange.status != 200 or not isinstance(body, dict):
        return f"HTTP {exchange.status} ({exchange.content_type})"
    choices = raw if isinstance(raw := body.get("choices"), list) else []
    types = [
        c.get("message", {}).get("type") for c in choices if isinstance(c, dict) and isinstance(c.get("message"), dict)
    ]
    response = body.get("provider_response")
    shape = sorted(response) if isinstance(response, dict) else type(response).__name__
    return f"object {body.get('object')}; messages {types}; provider_response {shape}"


def _is_error(data: str) -> bool:
    try:
        value = json.loads(data)
    except ValueError:
        return False
    return isinstance(value, dict) and "choices" not in value and ("error" in value or "message" in value)
