"""Test-only fault injection: what a fault is and the canned responses of the response-replacing kinds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

from starlette.responses import HTMLResponse, JSONResponse, Response

from .error_bodies import default_status_body, format_seconds

FaultKind = Literal[
    "status",
    "slow_first_byte",
    "disconnect_mid_stream",
    "error_event",
    "malformed_chunk",
    "non_json_body",
    "huge_response",
    "hang",
    "no_content",
    "scripted_deltas",
    "image_url",
    "stall_mid_stream",
]
ROUTES: Final = frozenset(
    {
        "list_deployments",
        "get_config",
        "invoke",
        "stream",
        "list_prompts",
        "get_prompt",
        "versions",
        "list_agents",
        "get_agent",
        "agent_response",
        "get_agent_task",
        "list_knowledge",
        "knowledge_search",
        "feedback",
        "get_trace",
        "list_spans",
    }
)

# Kinds that replace or delay the whole response; taken right after authentication.
REQUEST_KINDS: Final = frozenset({"status", "slow_first_byte", "non_json_body", "hang", "no_content"})
# Kinds that change the generated completion; taken when an invoke/stream produces its answer.
GENERATION_KINDS: Final = frozenset({"huge_response", "scripted_deltas"})
# Kinds that change what an image deployment generates; taken when an invoke answers with images.
MEDIA_KINDS: Final = frozenset({"huge_response", "image_url"})
# Kinds that only make sense for an SSE response; taken when a stream starts.
STREAM_KINDS: Final = frozenset({"disconnect_mid_stream", "error_event", "malformed_chunk", "stall_mid_stream"})
KINDS: Final = REQUEST_KINDS | GENERATION_KINDS | STREAM_KINDS | MEDIA_KINDS

# [EMU] orq documents no mid-stream error for deployments; this follows the docs' error envelope.
MIDSTREAM_ERROR: Final[dict[str, Any]] = {
    "error": {
        "code": "provider_error",
        "message": "Upstream provider closed the connection",
        "doc_url": "https://docs.orq.ai/errors/provider_error",
    }
}
BAD_GATEWAY_HTML: Final = "<html><body><h1>502 Bad Gateway</h1></body></html>"


@dataclass
class Fault:
    """One injected failure. ``route`` is a route name or ``"*"``; ``times`` = -1 means forever.

    Parameters by kind:
      status:                 status (default 500), body, headers, retry_after (429 only), legacy
      slow_first_byte:        delay (seconds)
      disconnect_mid_stream:  after_chunks
      error_event:            after_chunks
      malformed_chunk:        after_chunks
      stall_mid_stream:       after_chunks, delay (seconds of silence there, as a model thinking mid-answer)
      non_json_body:          status (default 502), headers
      huge_response:          size (characters), chunk_size (characters per SSE chunk); on an image
                              deployment, size is the bytes of each image, sent inline as a data: URI
      image_url:              body: the URL orq gives for each image (any scheme, as a hostile upstream might)
      scripted_deltas:        pieces: the exact content of each text chunk (replaying a real stream's sequence)
      hang:                   (none)
      no_content:             (none): an empty 204, which the SDK declares for get_config and invoke
    """

    route: str
    kind: FaultKind
    times: int = 1
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: float | int | None = None
    legacy: bool = False
    delay: float = 1.0
    after_chunks: int = 2
    size: int = 5_000_000
    chunk_size: int = 4096
    pieces: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.route != "*" and self.route not in ROUTES:
            raise ValueError(f"unknown route {self.route!r}; expected '*' or one of {sorted(ROUTES)}")
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {sorted(KINDS)}")
        if self.times == 0 or self.times < -1:
            raise ValueError("times must be a positive count or -1 (forever)")
        if self.kind == "scripted_deltas" and not self.pieces:
            raise ValueError("a scripted_deltas fault needs the pieces to stream")
        if self.kind == "image_url" and not isinstance(self.body, str):
            raise ValueError("an image_url fault needs the URL to return, as body")
        if self.after_chunks < 0 or self.size < 0 or self.chunk_size < 1:
            raise ValueError("after_chunks and size must be >= 0 and chunk_size >= 1")

    def matches(self, route: str) -> bool:
        return self.route in ("*", route)


def status_response(fault: Fault, route: str) -> Response:
    """The response for a ``status`` fault taken on ``route``."""
    status = fault.status or 500
    retry_after = fault.retry_after if fault.retry_after is not None else 2
    body = fault.body if fault.body is not None else default_status_body(status, route, retry_after, fault.legacy)
    headers = dict(fault.headers)
    if status == 429:
        headers.setdefault("Retry-After", format_seconds(retry_after))
    if isinstance(body, str | bytes):
        return Response(body, status_code=status, headers=headers, media_type="text/plain")
    return JSONResponse(body, status_code=status, headers=headers)


def non_json_response(fault: Fault) -> Response:
    """The response for a ``non_json_body`` fault: an HTML gateway page."""
    return HTMLResponse(BAD_GATEWAY_HTML, status_code=fault.status or 502, headers=dict(fault.headers))
