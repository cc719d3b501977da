"""`orq-mcp check --live`: ask the real orq API the questions its SDKs leave open, at no model cost.

Every invocation carries `invoke_options.mock_response` (SDK: orq skips the model, logs nothing and
bills nothing); `get_config` and the lists call no model at all. The raw answers are kept in a
`Transcript` (key scrubbed), so maintainers can compare orq with the emulator and replay them.

Agents and knowledge bases are only read: the lists, one agent's manifest, and the 404s for an unknown agent,
task and trace. No agent is run (an agent response has no mock: it always calls a model), and no knowledge base
is searched (a search embeds the query with the base's embedding model, a call billed to the workspace);
feedback is not sent (it writes to a real trace).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import anyio
import httpx2

from orq_mcp import __version__
from orq_mcp.cli.transcript import NON_CHAT_PREFIX, Exchange, Transcript, analyse
from orq_mcp.orq.models import Message
from orq_mcp.orq.redact import Redactor
from orq_mcp.orq.templates import find_variables

# Long enough to be streamed in several pieces, with repeats that tell delta from cumulative content
# ("6","66","6" is ambiguous to a guesser; see issue 10).
MOCK_RESPONSE = (
    "6 66 6 ha haha! This sentence is the orq-mcp live check: no model was called, and each streamed piece "
    "of it shows whether orq sends new text or everything so far."
)
MAX_BODY_BYTES = 1024 * 1024
# One exchange may take this long in all (a mock answer is fast; a stream that never ends must not hang us).
EXCHANGE_SECONDS = 60.0
UNKNOWN_KEY = "orq-mcp-probe-no-such-deployment"
UNKNOWN_AGENT = "orq-mcp-probe-no-such-agent"
UNKNOWN_TASK = "01ORQMCPPROBE0000000000000"
UNKNOWN_TRACE = "0" * 32
_STREAMED_TYPES = ("chat", "completion")
# An assistant turn in every form the SDK's request models allow (reasoning, redacted reasoning, refusal,
# cache_control): get_config calls no model, so orq's answer tells, for free, whether orq takes them.
ASSISTANT_PARTS_TURNS: list[dict[str, Any]] = [
    {"role": "user", "content": [{"type": "text", "text": "Hi", "cache_control": {"type": "ephemeral"}}]},
    {
        "role": "assistant",
        "content": [
            {"type": "reasoning", "reasoning": "The user says hi.", "signature": "orq-mcp-probe-signature"},
            {"type": "redacted_reasoning", "data": "orq-mcp-probe-redacted"},
            {"type": "refusal", "refusal": "No."},
        ],
        "refusal": "No.",
    },
]


class Recorder:
    def __init__(self, http: httpx2.AsyncClient, api_key: str, exchange_seconds: float = EXCHANGE_SECONDS) -> None:
        self._http = http
        self._exchange_seconds = exchange_seconds
        self._auth = api_key if api_key.startswith("Bearer ") else f"Bearer {api_key}"
        self._scrub = Redactor([api_key.removeprefix("Bearer ")])
        self.exchanges: list[Exchange] = []

    async def send(
        self, name: str, method: str, path: str, *, body: dict[str, Any] | None = None, sse: bool = False
    ) -> Exchange:
        headers = {"Authorization": self._auth, "Accept": "text/event-stream" if sse else "application/json"}
        raw, status, content_type = bytearray(), 0, ""
        with anyio.move_on_after(self._exchange_seconds) as scope:
            async with self._http.stream(method, path, json=body, headers=headers) as response:
                status = response.status_code
                content_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
                async for piece in response.aiter_bytes():
                    raw += piece
                    if len(raw) > MAX_BODY_BYTES:
                        break
        text = self._scrub.text(raw.decode("utf-8", errors="replace"))
        complete = not scope.cancelled_caught and len(raw) <= MAX_BODY_BYTES
        exchange = Exchange(name, method, path, self._scrub.value(body), status, content_type, text, complete)
        self.exchanges.append(exchange)
        return exchange


async def run_probe(
    http: httpx2.AsyncClient, api_key: str, deployment: str | None = None, exchange_seconds: float = EXCHANGE_SECONDS
) -> Transcript:
    """Record one transcript. `deployment` picks the chat deployment to use (default: the first one)."""
    recorder = Recorder(http, api_key, exchange_seconds)
    listed = await recorder.send("list_deployments", "GET", "/v2/deployments?limit=50")
    items = _items(listed)
    chat = _pick(items, deployment)
    transcript = Transcript(__version__, datetime.now(UTC).isoformat(timespec="seconds"), None, MOCK_RESPONSE)
    if chat is not None:
        transcript.deployment = chat["key"]
        await _probe_chat(recorder, chat)
    await _probe_non_chat(recorder, items)
    await _probe_runtime(recorder)
    transcript.exchanges = recorder.exchanges
    transcript.findings = analyse(transcript)
    return transcript


async def _probe_chat(recorder: Recorder, deployment: dict[str, Any]) -> None:
    key = deployment["key"]
    messages = [Message.model_validate(m) for m in deployment.get("prompt_config", {}).get("messages") or []]
    inputs = {name: f"probe-value-{i}" for i, name in enumerate(find_variables(messages))}
    mock = {"key": key, "inputs": inputs, "invoke_options": {"mock_response": MOCK_RESPONSE, "include_usage": True}}
    await recorder.send("versions", "GET", f"/v2/deployments/{quote(key, safe='')}/versions?limit=1")
    await recorder.send("get_config", "POST", "/v2/deployments/get_config", body={"key": key, "inputs": inputs})
    await recorder.send("stream", "POST", "/v2/deployments/stream", body={**mock, "stream": True}, sse=True)
    await recorder.send("invoke", "POST", "/v2/deployments/invoke", body={**mock, "stream": False})
    await recorder.send("invoke_stream_flag", "POST", "/v2/deployments/invoke", body={**mock, "stream": True}, sse=True)
    unknown = {**mock, "key": UNKNOWN_KEY, "stream": True}
    await recorder.send("stream_unknown_key", "POST", "/v2/deployments/stream", body=unknown, sse=True)
    # Error bodies for statuses the SDK declares no shape for (docs/orq-api.md, Errors).
    await recorder.send("invoke_unknown_key", "POST", "/v2/deployments/invoke", body={**unknown, "stream": False})
    await recorder.send("invoke_bad_body", "POST", "/v2/deployments/invoke", body={**mock, "key": 7, "stream": False})
    parts = {"key": key, "inputs": inputs, "messages": ASSISTANT_PARTS_TURNS, "stream": False}
    await recorder.send("get_config_assistant_parts", "POST", "/v2/deployments/get_config", body=parts)


async def _probe_non_chat(recorder: Recorder, items: list[dict[str, Any]]) -> None:
    """One mocked invocation of the first deployment of each non-chat type, and one refused stream: what shape a
    mocked answer takes per type (a real `provider_response` needs a paid call)."""
    seen: dict[str, dict[str, Any]] = {}
    for deployment in items:
        model_type = _model_type(deployment)
        if isinstance(model_type, str) and model_type not in _STREAMED_TYPES:
            seen.setdefault(model_type, deployment)
    mock = {"invoke_options": {"mock_response": MOCK_RESPONSE}}
    for model_type, deployment in seen.items():
        body = {"key": deployment["key"], "stream": False, **mock}
        await recorder.send(f"{NON_CHAT_PREFIX}{model_type}", "POST", "/v2/deployments/invoke", body=body)
    if seen:
        body = {"key": next(iter(seen.values()))["key"], "stream": True, **mock}
        await recorder.send("stream_non_chat", "POST", "/v2/deployments/stream", body=body, sse=True)


async def _probe_runtime(recorder: Recorder) -> None:
    """The free reads of orq's runtime beyond deployments: what an agent's manifest holds (its `variables`
    above all, which the SDK types only as an object), the knowledge-base list, and the error bodies."""
    agents = _items(await recorder.send("list_agents", "GET", "/v2/agents?limit=10"))
    if agents:
        key = quote(agents[0]["key"], safe="")
        await recorder.send("get_agent", "GET", f"/v2/agents/{key}")
        await recorder.send("agent_task_unknown", "GET", f"/v2/agents/{key}/responses/{UNKNOWN_TASK}")
    await recorder.send("get_agent_unknown", "GET", f"/v2/agents/{UNKNOWN_AGENT}")
    await recorder.send("list_knowledge", "GET", "/v2/knowledge?limit=10")
    await recorder.send("trace_unknown", "GET", f"/v3/traces/{UNKNOWN_TRACE}")


def _items(listed: Exchange) -> list[dict[str, Any]]:
    try:
        data = json.loads(listed.body).get("data") if listed.status == 200 else None
    except (ValueError, AttributeError):
        data = None
    return [d for d in data or [] if isinstance(d, dict) and isinstance(d.get("key"), str)]


def _pick(items: list[dict[str, Any]], wanted: str | None) -> dict[str, Any] | None:
    if wanted is not None:
        return next((d for d in items if d["key"] == wanted), None)
    return next((d for d in items if _model_type(d) in _STREAMED_TYPES), None)


def _model_type(deployment: dict[str, Any]) -> str | None:
    config = deployment.get("prompt_config")
    return config.get("model_type") if isinstance(config, dict) else None
