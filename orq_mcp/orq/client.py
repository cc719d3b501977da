"""Async client for the parts of the orq API the server uses (docs/orq-api.md, Endpoints).

One injected `httpx2.AsyncClient` carries the base URL, timeouts and connection pool; the
API key travels per request, so tenants with different keys can share one pool safely.
Nothing here knows about MCP.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import anyio
import httpx2
from pydantic import TypeAdapter, ValidationError

from orq_mcp import __version__
from orq_mcp.orq.agent_models import Agent, AgentTask
from orq_mcp.orq.agent_requests import AgentRequest
from orq_mcp.orq.agent_stream import AgentRun, AgentRunAccumulator, AgentRunFailed, run_from_task
from orq_mcp.orq.errors import (
    DEEP_JSON,
    AgentRunError,
    BodyTooLargeError,
    InvalidResponseError,
    InvocationTimeoutError,
    NoContentError,
    OrqConnectionError,
    OrqError,
    OrqTimeoutError,
    RateLimitError,
    ResponseTooLargeError,
    ServerError,
    StreamError,
    StreamInterruptedError,
    error_for_status,
    extract_message,
    loads_json,
    parse_body,
)
from orq_mcp.orq.feedback import Feedback, FeedbackReceipt
from orq_mcp.orq.knowledge import KnowledgeBase, KnowledgeChunk, KnowledgeSearch, SearchAnswer, chunks_of
from orq_mcp.orq.models import CompletionChunk, Deployment, DeploymentConfig, DeploymentVersion, Page, Prompt
from orq_mcp.orq.outputs import Invocation, describe_invocation
from orq_mcp.orq.redact import Redactor
from orq_mcp.orq.slots import StreamSlots
from orq_mcp.orq.sockets import PoolTransport
from orq_mcp.orq.sse import Event, EventTooLarge, read_events
from orq_mcp.orq.streaming import Completion, CompletionAccumulator
from orq_mcp.orq.traces import SpanInfo, SpansPage, TraceAnswer, TraceReport, build_report
from orq_mcp.orq.tracing import note_orq_trace_id

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A JSON answer larger than this is not something the server could use; refuse it early.
MAX_JSON_BYTES = 20 * 1024 * 1024
# One page of a list (50 deployments or 200 prompts at most; the catalogs ask for fewer items when a page
# of long prompts passes this). Parsing holds the GIL, ~70 ms per MB at worst, so a worker thread would
# stall the event loop just the same (measured): this cap is what bounds the stall one page can cause.
MAX_PAGE_BYTES = 4 * 1024 * 1024
# One SSE event (a chunk; the final one may restate the whole text) or one line of the stream.
MAX_EVENT_CHARS = 8 * 1024 * 1024
MAX_ERROR_BYTES = 64 * 1024
DRAIN_SECONDS = 1.0
_RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
# Spans asked for per page of a trace (the SDK sets no bound; a trace summary holds at most 50 by default).
SPAN_PAGE = 50


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 30.0
    # Longest silence tolerated inside a stream: models may think for minutes before a token.
    stream: float = 300.0
    # Longest a whole invocation may take, however steadily text arrives (a trickle never falls silent).
    invoke: float = 600.0


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, honouring orq's Retry-After up to a cap."""

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    # A longer Retry-After is reported to the agent instead of blocking the call that long.
    max_retry_after: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before retry number `attempt` (0-based), or None to give up."""
        if attempt >= self.max_retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        backoff = min(self.max_delay, self.initial_delay * 2**attempt)
        return backoff * (1 - 0.25 * random.random())


@dataclass(frozen=True)
class RequestDefaults:
    """What the SDK's request hook adds to requests from client-wide settings (docs/orq-api.md, Request body)."""

    # Sent as `context.environments` on get_config, invoke and stream, unless the caller's context names one.
    environment: str | None = None
    # Sent as the `X-ORQ-CONTACT-ID` header on every request.
    contact_id: str | None = None


def create_http_client(base_url: str, timeouts: Timeouts = Timeouts(), **kwargs: Any) -> httpx2.AsyncClient:
    """The shared HTTP client: keep-alive pool, base URL, no auth (that is per request)."""
    kwargs.setdefault("transport", DeferredTransport(limits=POOL_LIMITS))
    return httpx2.AsyncClient(
        base_url=normalize_base_url(base_url),
        timeout=httpx2.Timeout(timeouts.read, connect=timeouts.connect),
        headers={"User-Agent": f"orq-mcp/{__version__}"},
        **kwargs,
    )


POOL_LIMITS = httpx2.Limits(max_connections=200, max_keepalive_connections=50)


class DeferredTransport(httpx2.AsyncBaseTransport):
    """The real transport, built in a worker thread from the moment this one is made.

    Building it loads the system CA bundle, ~150 ms that a server's start-up (its answer to
    `initialize`) need not wait for: only the first request waits, if it comes that early.
    The transport is the pool on the loop's own sockets (sockets.py); through a proxy, httpx2's.
    """

    def __init__(self, *, limits: httpx2.Limits, proxy: str | None = None) -> None:
        self._transport: httpx2.AsyncBaseTransport | None = None
        self._error: BaseException | None = None
        self._built = threading.Event()
        threading.Thread(target=self._build, args=(limits, proxy), name="orq-mcp-tls", daemon=True).start()

    def _build(self, limits: httpx2.Limits, proxy: str | None) -> None:
        try:
            self._transport = (
                httpx2.AsyncHTTPTransport(limits=limits, proxy=proxy) if proxy else PoolTransport(limits=limits)
            )
        except BaseException as exc:  # re-raised on the first request, where someone can report it
            self._error = exc
        finally:
            self._built.set()

    async def _ready(self) -> httpx2.AsyncBaseTransport:
        if not self._built.is_set():
            await anyio.to_thread.run_sync(self._built.wait)
        if self._error is not None:
            raise self._error
        assert self._transport is not None
        return self._transport

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await (await self._ready()).handle_async_request(request)

    async def aclose(self) -> None:
        if self._built.is_set() and self._transport is not None:
            await self._transport.aclose()


def normalize_base_url(base_url: str) -> str:
    """Accept `https://api.orq.ai`, `.../` or `.../v2`: every path we send starts with /v2."""
    url = base_url.strip().rstrip("/")
    return url[: -len("/v2")] if url.endswith("/v2") else url


class OrqClient:
    def __init__(
        self,
        http: httpx2.AsyncClient,
        api_key: str,
        *,
        timeouts: Timeouts = Timeouts(),
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        max_response_chars: int = 1_000_000,
        streams: StreamSlots | None = None,
        defaults: RequestDefaults = RequestDefaults(),
        redactor: Redactor | None = None,
    ) -> None:
        self._http = http
        self._auth = api_key if api_key.startswith("Bearer ") else f"Bearer {api_key}"
        # Shared by every client on this pool (see with_api_key), counted per key.
        self._streams = streams if streams is not None else StreamSlots()
        self._key_id = StreamSlots.key_id(api_key.removeprefix("Bearer "))
        # orq may quote the key back in an error; it is scrubbed before anything else reads the text.
        # `redactor` (one that knows this key) saves building another for the same key.
        self._scrub = (redactor if redactor is not None else Redactor([api_key.removeprefix("Bearer ")])).text
        self._timeouts = timeouts
        self._retry = retry
        self._sleep = sleep
        self._max_response_chars = max_response_chars
        self._defaults = defaults

    def __repr__(self) -> str:
        return f"OrqClient(base_url={str(self._http.base_url)!r})"

    def with_api_key(self, api_key: str, redactor: Redactor | None = None) -> OrqClient:
        """The same pool and settings, authenticating as another key (one tenant's view); `redactor`
        (one that knows the key) scrubs what orq sends back."""
        return OrqClient(
            self._http,
            api_key,
            timeouts=self._timeouts,
            retry=self._retry,
            sleep=self._sleep,
            max_response_chars=self._max_response_chars,
            streams=self._streams,
            defaults=self._defaults,
            redactor=redactor,
        )

    # -- read operations: safe to retry ------------------------------------------------------

    async def list_deployments(self, limit: int = 10, starting_after: str | None = None) -> Page[Deployment]:
        params = _page_params(limit, starting_after)
        return await self._get_page("/v2/deployments", Deployment, limit, params)

    async def list_prompts(self, limit: int = 10, starting_after: str | None = None) -> Page[Prompt]:
        params = _page_params(limit, starting_after)
        return await self._get_page("/v2/prompts", Prompt, limit, params)

    async def deployment_versions(
        self, key_or_id: str, limit: int = 10, starting_after: str | None = None
    ) -> Page[DeploymentVersion]:
        """Saved versions of a deployment, drafts included, newest first (SDK 4.17 `list_versions`)."""
        params = _page_params(limit, starting_after)
        path = f"/v2/deployments/{_segment(key_or_id)}/versions"
        return await self._get_page(path, DeploymentVersion, limit, params)

    async def get_config(self, body: dict[str, Any]) -> DeploymentConfig:
        # get_config only resolves a template; it calls no model, so a retry costs nothing.
        parse = functools.partial(_parse, model=DeploymentConfig)
        sent = self._deployment_body(body, stream=False)
        return await self._request_json("POST", "/v2/deployments/get_config", parse, MAX_JSON_BYTES, json=sent)

    # -- agents, knowledge bases, feedback and traces ----------------------------------------

    async def list_agents(self, limit: int = 10, starting_after: str | None = None) -> Page[Agent]:
        """Agents, newest first (SDK `agents.list`). `limit` is always sent: without it orq lists every agent."""
        return await self._get_page("/v2/agents", Agent, limit, _page_params(limit, starting_after))

    async def get_agent(self, key: str) -> Agent:
        """One agent's manifest (SDK `agents.retrieve`, `GET /v2/agents/{agent_key}`)."""
        parse = functools.partial(_parse, model=Agent)
        return await self._request_json("GET", f"/v2/agents/{_segment(key)}", parse, MAX_PAGE_BYTES)

    async def get_agent_task(self, key: str, task_id: str) -> AgentTask:
        """A task's state and its latest output (SDK `agents.responses.get`, `GET .../responses/{task_id}`)."""
        parse = functools.partial(_parse, model=AgentTask)
        path = f"/v2/agents/{_segment(key)}/responses/{_segment(task_id)}"
        task = await self._request_json("GET", path, parse, MAX_JSON_BYTES)
        self._note_trace_id(task.telemetry.trace_id if task.telemetry else None)
        return task

    async def list_knowledge_bases(self, limit: int = 10, starting_after: str | None = None) -> Page[KnowledgeBase]:
        """Knowledge bases, newest first (SDK `knowledge.list`)."""
        return await self._get_page("/v2/knowledge", KnowledgeBase, limit, _page_params(limit, starting_after))

    async def search_knowledge(self, knowledge: str, search: KnowledgeSearch) -> list[KnowledgeChunk]:
        """The chunks of one knowledge base (its id or its key) most like the query (SDK `knowledge.search`).

        A search calls no generative model and changes nothing, so it is retried like a read."""
        parse = functools.partial(_parse, model=SearchAnswer)
        path = f"/v2/knowledge/{_segment(knowledge)}/search"
        return chunks_of(await self._request_json("POST", path, parse, MAX_JSON_BYTES, json=search.to_orq()))

    async def submit_feedback(self, feedback: Feedback) -> FeedbackReceipt:
        """Rate a generation (SDK `feedback.create`). A write: retried only when orq provably did nothing."""
        parse = functools.partial(_parse, model=FeedbackReceipt)
        body = feedback.to_orq()
        return await self._request_json("POST", "/v2/feedback", parse, MAX_JSON_BYTES, idempotent=False, json=body)

    async def get_trace(self, trace_id: str, max_spans: int = 50) -> TraceReport:
        """A trace's totals and up to `max_spans` of its spans (SDK `traces.get` and `traces.list_spans`)."""
        path = f"/v3/traces/{_segment(trace_id)}"
        trace = await self._request_json("GET", path, functools.partial(_parse, model=TraceAnswer), MAX_PAGE_BYTES)
        spans: list[SpanInfo] = []
        token: str | None = None
        more = False
        while len(spans) < max_spans:
            params: dict[str, Any] = {"limit": min(SPAN_PAGE, max_spans - len(spans))}
            if token:
                params["page_token"] = token
            parse = functools.partial(_parse, model=SpansPage)
            page = await self._request_json("GET", f"{path}/spans", parse, MAX_PAGE_BYTES, params=params)
            spans += page.data[: max_spans - len(spans)]
            more = page.has_more and bool(page.next_page_token) and bool(page.data)
            if not more:
                break
            token = page.next_page_token
        return build_report(trace_id, trace.trace, spans, more)

    async def invoke_agent(
        self, key: str, request: AgentRequest, on_text: Callable[[str], Awaitable[None]] | None = None
    ) -> AgentRun:
        """Run an agent (SDK `agents.responses.create`, `POST /v2/agents/{agent_key}/responses`, streamed),
        calling `on_text` with each new piece of its text, as `invoke` does for a deployment.

        The same stream slot, response cap and whole-call deadline (`Timeouts.invoke`) as `invoke`; on failure
        the raised `OrqError` carries the text received so far in `partial_text`."""
        accumulator = AgentRunAccumulator()
        run: AgentRun | None = None
        try:
            with anyio.move_on_after(self._timeouts.invoke):
                run = await self._run_agent(key, request, accumulator, on_text)
            if run is None:  # the deadline passed first
                raise self._past_deadline()
        except OrqError as exc:
            exc.partial_text = accumulator.text
            raise
        return run

    async def _run_agent(
        self,
        key: str,
        request: AgentRequest,
        accumulator: AgentRunAccumulator,
        on_text: Callable[[str], Awaitable[None]] | None,
    ) -> AgentRun:
        sent = self._http.build_request(
            "POST",
            f"/v2/agents/{_segment(key)}/responses",
            json=request.to_orq(stream=True),
            headers=self._headers(accept="text/event-stream"),
            timeout=httpx2.Timeout(self._timeouts.stream, connect=self._timeouts.connect),
        )
        async with self._streams.hold(self._key_id):
            response = await self._open_stream(sent)
            try:
                if _content_type(response) != "text/event-stream":
                    # The SDK declares a JSON answer too (`CreateAgentResponse`): the whole run at once.
                    run = run_from_task(_parse(await _read_capped(response, MAX_JSON_BYTES), AgentTask))
                    self._note_trace_id(run.trace_id)
                    if run.text and on_text is not None:
                        await on_text(run.text)
                    return run
                await self._read_agent_events(response, accumulator, on_text)
            except httpx2.HTTPError as exc:
                raise _transport_error(exc, streaming=True) from None
            finally:
                await response.aclose()
        return accumulator.result()

    async def _read_agent_events(
        self,
        response: httpx2.Response,
        accumulator: AgentRunAccumulator,
        on_text: Callable[[str], Awaitable[None]] | None,
    ) -> None:
        noted = None
        events = aiter(read_events(response.aiter_bytes(), MAX_EVENT_CHARS))
        try:
            async for event in events:
                if event.data.strip() == "[DONE]":
                    with anyio.move_on_after(DRAIN_SECONDS):  # hand the connection back to the pool
                        async for _ in events:
                            pass
                    break
                data = _agent_event(event, self._scrub)
                if data is None:  # a half-written last event: the connection was cut
                    break
                try:
                    delta = accumulator.feed(data)
                except AgentRunFailed as failed:
                    raise _agent_failure(failed, self._scrub) from None
                noted = await self._relay(accumulator, delta, noted, "agent's answer", on_text)
        except EventTooLarge:
            raise InvalidResponseError("orq sent a stream event larger than the server accepts.") from None
        if not accumulator.finished:
            raise StreamInterruptedError("The stream from orq ended before the agent's response was finished.")

    # -- invoke: paid and not idempotent -----------------------------------------------------

    async def invoke(self, body: dict[str, Any], on_text: Callable[[str], Awaitable[None]] | None = None) -> Completion:
        """Stream a deployment's completion, calling `on_text` with each new piece of text.

        On failure the raised `OrqError` carries the text received so far in `partial_text`.
        The whole call is bounded by `Timeouts.invoke`.
        """
        accumulator = CompletionAccumulator()
        try:
            with anyio.move_on_after(self._timeouts.invoke) as deadline:
                await self._read_completion(body, accumulator, on_text)
            if deadline.cancelled_caught:
                raise self._past_deadline()
        except OrqError as exc:
            exc.partial_text = accumulator.text
            raise
        return accumulator.result()

    async def invoke_unstreamed(self, body: dict[str, Any], model_type: str | None = None) -> Invocation:
        """Invoke without streaming (`POST /v2/deployments/invoke`, `stream: false`): the only way to run
        image, embedding and other non-chat deployments (`model_type` says how to read the answer). Retried
        only when orq provably started nothing.

        Like a stream it holds a stream slot, and the whole call is bounded by `Timeouts.invoke`."""
        request = self._http.build_request(
            "POST",
            "/v2/deployments/invoke",
            json=self._deployment_body(body, stream=False),
            headers=self._headers(),
            # Generating an image can take as long as a streamed answer, without a byte in between.
            timeout=httpx2.Timeout(self._timeouts.stream, connect=self._timeouts.connect),
        )
        raw = b""
        with anyio.move_on_after(self._timeouts.invoke) as deadline:
            async with self._streams.hold(self._key_id):
                response = await self._open_stream(request)
                try:
                    raw = await _read_capped(response, MAX_JSON_BYTES)
                except httpx2.HTTPError as exc:
                    raise _transport_error(exc, streaming=True) from None
                finally:
                    await response.aclose()
        if deadline.cancelled_caught:
            raise self._past_deadline()
        invocation = describe_invocation(_parse(raw, CompletionChunk), model_type)
        self._note_trace_id(invocation.completion.trace_id)
        return invocation

    def _note_trace_id(self, trace_id: str | None) -> None:
        """Put orq's trace id for the generation on the MCP request's span; a span leaves the process (to a
        collector), so what orq sent is scrubbed first, like anything else it sends."""
        if trace_id:
            note_orq_trace_id(self._scrub(trace_id))

    def _past_deadline(self) -> InvocationTimeoutError:
        return InvocationTimeoutError(
            f"The invocation ran past the server's {self._timeouts.invoke:g}-second limit for one call, "
            "so the server stopped it."
        )

    async def _read_completion(
        self, body: dict[str, Any], accumulator: CompletionAccumulator, on_text: Callable[[str], Awaitable[None]] | None
    ) -> None:
        noted = None
        async with self.stream(body) as chunks:
            async for chunk in chunks:
                delta = accumulator.feed(chunk)
                noted = await self._relay(accumulator, delta, noted, "completion", on_text)

    async def _relay(
        self,
        accumulator: CompletionAccumulator | AgentRunAccumulator,
        delta: str,
        noted: str | None,
        what: str,
        on_text: Callable[[str], Awaitable[None]] | None,
    ) -> str | None:
        """After each piece of a stream: note a new trace id, hold the size cap, hand the new text on.
        Returns the trace id now noted."""
        if accumulator.trace_id != noted:
            noted = accumulator.trace_id
            self._note_trace_id(noted)
        if accumulator.length > self._max_response_chars:
            raise ResponseTooLargeError(
                f"The {what} grew past {self._max_response_chars:,} characters, so the server stopped reading it."
            )
        if delta and on_text is not None:
            await on_text(delta)
        return noted

    @asynccontextmanager
    async def stream(self, body: dict[str, Any]) -> AsyncIterator[AsyncIterator[CompletionChunk]]:
        """Open `POST /v2/deployments/stream` and yield its chunks until `[DONE]`.

        The stream holds one of the pool's stream slots (`StreamSlots`) from before it opens until it closes.
        """
        async with self._streams.hold(self._key_id), self._open(body) as chunks:
            yield chunks

    @asynccontextmanager
    async def _open(self, body: dict[str, Any]) -> AsyncIterator[AsyncIterator[CompletionChunk]]:
        request = self._http.build_request(
            "POST",
            "/v2/deployments/stream",
            json=self._deployment_body(body, stream=True),
            headers=self._headers(accept="text/event-stream"),
            timeout=httpx2.Timeout(self._timeouts.stream, connect=self._timeouts.connect),
        )
        response = await self._open_stream(request)
        try:
            yield _iter_chunks(response, self._scrub)
        except httpx2.HTTPError as exc:
            raise _transport_error(exc, streaming=True) from None
        finally:
            await response.aclose()

    async def _open_stream(self, request: httpx2.Request) -> httpx2.Response:
        """Send the stream request, retrying only when orq provably did not start the work."""
        for attempt in range(self._retry.max_retries + 1):
            try:
                response = await self._http.send(request, stream=True)
            except httpx2.HTTPError as exc:
                error = _transport_error(exc)
                if not (isinstance(error, OrqConnectionError) and not error.request_sent):
                    raise error from None
                await self._backoff(attempt, error, None)
                continue
            if response.status_code == 204:
                await response.aclose()
                raise _no_content(request.url.path)
            if response.is_success:
                return response
            error = await _error_from_response(response, self._scrub)
            # A 429 comes before any byte of a stream: orq started nothing, so retrying is safe.
            if not isinstance(error, RateLimitError):
                raise error
            await self._backoff(attempt, error, error.retry_after)
        raise AssertionError("unreachable: _backoff raises on the last attempt")

    # -- plumbing ----------------------------------------------------------------------------

    def _headers(self, accept: str = "application/json") -> dict[str, str]:
        headers = {"Authorization": self._auth, "Accept": accept}
        if self._defaults.contact_id is not None:
            headers["X-ORQ-CONTACT-ID"] = self._defaults.contact_id
        return headers

    def _deployment_body(self, body: dict[str, Any], *, stream: bool) -> dict[str, Any]:
        """A get_config/invoke/stream body as the SDK's hook sends it: `stream` written in, and the
        server-wide environment routed unless the caller's own context names one (the hook overwrites it)."""
        sent = {**body, "stream": stream}
        if self._defaults.environment is not None:
            context = body.get("context")
            sent["context"] = {"environments": self._defaults.environment, **(context or {})}
        return sent

    async def _get_page(self, path: str, item: type[T], limit: int, params: dict[str, Any]) -> Page[T]:
        parse = functools.partial(_parse_page, item=item, limit=limit)
        try:
            return await self._request_json("GET", path, parse, MAX_PAGE_BYTES, params=params)
        except BodyTooLargeError as exc:
            raise BodyTooLargeError(f"{exc.message} Ask for fewer items per page (a smaller limit).") from None

    async def _request_json(
        self,
        method: str,
        path: str,
        parse: Callable[[bytes], T],
        max_bytes: int,
        *,
        idempotent: bool = True,
        **kwargs: Any,
    ) -> T:
        """One JSON call with retries; a call that is not `idempotent` is retried only when orq did nothing."""
        for attempt in range(self._retry.max_retries + 1):
            try:
                return parse(await self._request_once(method, path, max_bytes, **kwargs))
            except (RateLimitError, ServerError, OrqConnectionError, OrqTimeoutError, InvalidResponseError) as error:
                if not (_retryable(error) if idempotent else _provably_not_done(error)):
                    raise
                retry_after = error.retry_after if isinstance(error, RateLimitError) else None
                await self._backoff(attempt, error, retry_after)
        raise AssertionError("unreachable: _backoff raises on the last attempt")

    async def _backoff(self, attempt: int, error: OrqError, retry_after: float | None) -> None:
        delay = self._retry.delay(attempt, retry_after)
        if delay is None:
            raise error
        logger.info("orq call failed (%s); retrying in %.2fs", type(error).__name__, delay)
        await self._sleep(delay)

    async def _request_once(self, method: str, path: str, max_bytes: int, **kwargs: Any) -> bytes:
        """One request's successful body, read up to `max_bytes`."""
        request = self._http.build_request(method, path, headers=self._headers(), **kwargs)
        try:
            response = await self._http.send(request, stream=True)
        except httpx2.HTTPError as exc:
            raise _transport_error(exc) from None
        try:
            if not response.is_success:
                raise await _error_from_response(response, self._scrub)
            if response.status_code == 204:
                raise _no_content(path)
            return await _read_capped(response, max_bytes)
        except httpx2.HTTPError as exc:
            raise _transport_error(exc, streaming=True) from None
        finally:
            await response.aclose()


def _provably_not_done(error: OrqError) -> bool:
    """Whether orq certainly did not act on the request: a 429, or a connection that was never made."""
    return isinstance(error, RateLimitError) or (isinstance(error, OrqConnectionError) and not error.request_sent)


def _segment(value: str) -> str:
    """One path segment: a key or id with `/` or `?` in it must not reach another route."""
    return quote(value, safe="")


def _content_type(response: httpx2.Response) -> str:
    return response.headers.get("content-type", "").partition(";")[0].strip().lower()


def _agent_event(event: Event, scrub: Callable[[str], str]) -> dict[str, Any] | None:
    """One agent event's JSON, or None for a half-written last event; an error event raises `StreamError`."""
    if event.event == "error":
        message, code = extract_message(parse_body(event.data.encode(), scrub), "orq reported an error mid-stream.")
        raise StreamError(message, code=code)
    try:
        data = loads_json(event.data)
    except ValueError:
        if not event.terminated:
            return None
        raise InvalidResponseError("orq sent a malformed agent event (not JSON).") from None
    if not isinstance(data, dict):
        raise InvalidResponseError("orq sent an agent event that is not a JSON object.")
    if "type" not in data and _looks_like_error(data):
        message, code = extract_message(parse_body(event.data.encode(), scrub), "orq reported an error mid-stream.")
        raise StreamError(message, code=code)
    return data


def _agent_failure(failed: AgentRunFailed, scrub: Callable[[str], str]) -> AgentRunError:
    detail = " ".join(scrub(failed.error).split())[:300] or "no reason given"
    code = str(int(failed.code)) if failed.code is not None and failed.code == failed.code else None
    task_id = scrub(failed.task_id) if failed.task_id else None
    return AgentRunError(f"The agent's run failed: {detail}", code=code, task_id=task_id)


def _retryable(error: OrqError) -> bool:
    """Whether a read that failed this way may be tried again."""
    if isinstance(error, ServerError):
        return error.status in _RETRYABLE_STATUSES
    if isinstance(error, InvalidResponseError):
        return error.retryable
    return True


# The SDK declares 204 for get_config and invoke; /stream runs the same generation as invoke.
_NO_CONTENT_OF = {
    "/v2/deployments/get_config": "configuration",
    "/v2/deployments/invoke": "completion",
    "/v2/deployments/stream": "completion",
}


def _no_content(path: str) -> NoContentError:
    what = _NO_CONTENT_OF.get(path)
    if what is None:
        return NoContentError("orq answered 204 No Content where it should have returned data. Retry the call.")
    return NoContentError(
        f"orq answered 204 No Content: it returned no {what} for this deployment. Check in orq that the "
        "deployment has a published version for this routing context (or call without `context`), then retry."
    )


def _page_params(limit: int, starting_after: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit}
    if starting_after:
        params["starting_after"] = starting_after
    return params


async def _read_capped(response: httpx2.Response, limit: int) -> bytes:
    buffer = bytearray()
    async for piece in response.aiter_bytes():
        buffer += piece
        if len(buffer) > limit:
            raise BodyTooLargeError(f"orq's response was larger than {limit // (1024 * 1024)} MB; it was not read.")
    return bytes(buffer)


async def _error_from_response(response: httpx2.Response, scrub: Callable[[str], str]) -> OrqError:
    try:
        raw = bytearray()
        async for piece in response.aiter_bytes():
            raw += piece
            if len(raw) >= MAX_ERROR_BYTES:
                break
    except httpx2.HTTPError:
        raw = bytearray()
    finally:
        await response.aclose()
    return error_for_status(response.status_code, bytes(raw), dict(response.headers), scrub)


def _parse(raw: bytes, model: type[T]) -> T:
    try:
        return _adapter(model).validate_json(raw)
    except ValidationError as exc:
        invalid = [str(e.get("ctx", {}).get("error", "")) for e in exc.errors() if e["type"] == "json_invalid"]
        if any(reason.startswith("recursion limit") for reason in invalid):
            raise InvalidResponseError(DEEP_JSON, retryable=True) from None
        if invalid:
            raise InvalidResponseError("orq answered with a body that is not JSON.") from None
        raise _shape_error(exc) from None


def _parse_page(raw: bytes, item: type[T], limit: int) -> Page[T]:
    """One page, its items counted before any is validated.

    Validation costs ~10 µs per item and holds the GIL: a page of 100,000 small items (an upstream
    ignoring `limit`) would stall every client of the server for seconds.
    """
    try:
        body = loads_json(raw)
    except ValueError:
        raise InvalidResponseError("orq answered with a body that is not JSON.") from None
    items = body.get("data") if isinstance(body, dict) else None
    if isinstance(items, list) and len(items) > limit:
        raise InvalidResponseError(f"orq sent {len(items):,} items on a page of at most {limit}.")
    try:
        return _adapter(Page[item]).validate_python(body)
    except ValidationError as exc:
        raise _shape_error(exc) from None


def _shape_error(exc: ValidationError) -> InvalidResponseError:
    fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
    return InvalidResponseError(f"orq's response did not have the expected shape (fields: {fields}).")


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(model: type[T]) -> TypeAdapter[T]:
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        adapter = _ADAPTERS[model] = TypeAdapter(model)
    return adapter


async def _iter_chunks(response: httpx2.Response, scrub: Callable[[str], str]) -> AsyncIterator[CompletionChunk]:
    if _content_type(response) != "text/event-stream":
        # A gateway or an older orq answering the whole completion as JSON: accept it as one chunk.
        chunk = _parse(await _read_capped(response, MAX_JSON_BYTES), CompletionChunk)
        chunk.is_final = True
        yield chunk
        return
    finished = False
    events = aiter(read_events(response.aiter_bytes(), MAX_EVENT_CHARS))
    try:
        async for event in events:
            if event.data.strip() == "[DONE]":
                # Read to the end of the body (normally nothing is left) so the connection goes back to
                # the pool: closing a half-read response throws it away, and with it a TLS handshake.
                with anyio.move_on_after(DRAIN_SECONDS):
                    async for _ in events:
                        pass
                return
            try:
                chunk = _chunk_from_event(event, scrub)
            except InvalidResponseError:
                if not event.terminated:  # a half-written last event: the connection was cut, not bad data
                    break
                raise
            finished = finished or chunk.is_final
            yield chunk
    except EventTooLarge:
        raise InvalidResponseError("orq sent a stream event larger than the server accepts.") from None
    if not finished:
        raise StreamInterruptedError("The stream from orq ended before the completion was finished.")


def _chunk_from_event(event: Event, scrub: Callable[[str], str]) -> CompletionChunk:
    if event.event != "error":  # the common case, parsed and validated in one pass
        try:
            chunk = CompletionChunk.model_validate_json(event.data)
        except ValidationError:
            chunk = None
        if chunk is not None and ("choices" in chunk.model_fields_set or not _looks_like_error(chunk.model_extra)):
            return chunk
    # An error event, an error payload, or not a chunk at all: look closer.
    try:
        data = loads_json(event.data)
    except ValueError:
        raise InvalidResponseError("orq sent a malformed stream chunk (not JSON).") from None
    if event.event == "error" or not isinstance(data, dict) or ("choices" not in data and _looks_like_error(data)):
        message, code = extract_message(parse_body(event.data.encode(), scrub), "orq reported an error mid-stream.")
        raise StreamError(message, code=code)
    raise InvalidResponseError("orq sent a stream chunk with an unexpected shape.")


def _looks_like_error(data: dict[str, Any] | None) -> bool:
    return bool(data) and ("error" in data or "message" in data)


def _transport_error(exc: httpx2.HTTPError, *, streaming: bool = False) -> OrqError:
    """Map an httpx failure to our errors, without echoing its text (it may hold the URL)."""
    if isinstance(exc, httpx2.ConnectTimeout):
        return OrqConnectionError("Timed out connecting to orq.", request_sent=False)
    if isinstance(exc, httpx2.ConnectError):
        return OrqConnectionError("Could not connect to orq (connection refused or DNS failure).", request_sent=False)
    if isinstance(exc, httpx2.TimeoutException):
        return OrqTimeoutError("orq stopped responding before the request timed out.")
    if streaming:
        return StreamInterruptedError("The connection to orq dropped before the response was complete.")
    return OrqConnectionError("The connection to orq failed.", request_sent=True)
