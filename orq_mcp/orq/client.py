"""Async client for the parts of the orq API the server uses (reference §2-§6).

One injected `httpx2.AsyncClient` carries the base URL, timeouts and connection pool; the
API key travels per request, so tenants with different keys can share one pool safely.
Nothing here knows about MCP.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import httpx2
from pydantic import TypeAdapter, ValidationError

from orq_mcp import __version__
from orq_mcp.orq.errors import (
    InvalidResponseError,
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
    parse_body,
)
from orq_mcp.orq.models import CompletionChunk, Deployment, DeploymentConfig, Page, Prompt
from orq_mcp.orq.redact import Redactor
from orq_mcp.orq.sse import Event, EventTooLarge, read_events
from orq_mcp.orq.streaming import Completion, CompletionAccumulator

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A JSON answer larger than this is not something the server could use; refuse it early.
MAX_JSON_BYTES = 20 * 1024 * 1024
MAX_ERROR_BYTES = 64 * 1024
DRAIN_SECONDS = 1.0
_RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 30.0
    # Longest silence tolerated inside a stream: models may think for minutes before a token.
    stream: float = 300.0


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
    """

    def __init__(self, **options: Any) -> None:
        self._transport: httpx2.AsyncHTTPTransport | None = None
        self._error: BaseException | None = None
        self._built = threading.Event()
        threading.Thread(target=self._build, args=(options,), name="orq-mcp-tls", daemon=True).start()

    def _build(self, options: dict[str, Any]) -> None:
        try:
            self._transport = httpx2.AsyncHTTPTransport(**options)
        except BaseException as exc:  # re-raised on the first request, where someone can report it
            self._error = exc
        finally:
            self._built.set()

    async def _ready(self) -> httpx2.AsyncHTTPTransport:
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
    ) -> None:
        self._http = http
        self._auth = api_key if api_key.startswith("Bearer ") else f"Bearer {api_key}"
        # orq may quote the key back in an error; it is scrubbed before anything else reads the text.
        self._scrub = Redactor([api_key.removeprefix("Bearer ")]).text
        self._timeouts = timeouts
        self._retry = retry
        self._sleep = sleep
        self._max_response_chars = max_response_chars

    def __repr__(self) -> str:
        return f"OrqClient(base_url={str(self._http.base_url)!r})"

    def with_api_key(self, api_key: str) -> OrqClient:
        """The same pool and settings, authenticating as another key (one tenant's view)."""
        return OrqClient(
            self._http,
            api_key,
            timeouts=self._timeouts,
            retry=self._retry,
            sleep=self._sleep,
            max_response_chars=self._max_response_chars,
        )

    # -- read operations: safe to retry ------------------------------------------------------

    async def list_deployments(
        self, limit: int = 10, starting_after: str | None = None, ending_before: str | None = None
    ) -> Page[Deployment]:
        params = _page_params(limit, starting_after, ending_before)
        return await self._get_json("/v2/deployments", Page[Deployment], params=params)

    async def list_prompts(
        self, limit: int = 10, starting_after: str | None = None, ending_before: str | None = None
    ) -> Page[Prompt]:
        params = _page_params(limit, starting_after, ending_before)
        return await self._get_json("/v2/prompts", Page[Prompt], params=params)

    async def get_config(self, body: dict[str, Any]) -> DeploymentConfig:
        # get_config only resolves a template; it calls no model, so a retry costs nothing.
        return await self._request_json("POST", "/v2/deployments/get_config", DeploymentConfig, json=body)

    # -- invoke: paid and not idempotent -----------------------------------------------------

    async def invoke(self, body: dict[str, Any], on_text: Callable[[str], Awaitable[None]] | None = None) -> Completion:
        """Stream a deployment's completion, calling `on_text` with each new piece of text.

        On failure the raised `OrqError` carries the text received so far in `partial_text`.
        """
        accumulator = CompletionAccumulator()
        try:
            async with self.stream(body) as chunks:
                async for chunk in chunks:
                    delta = accumulator.feed(chunk)
                    if accumulator.length > self._max_response_chars:
                        raise ResponseTooLargeError(
                            f"The completion grew past {self._max_response_chars:,} characters, so the server "
                            "stopped reading it."
                        )
                    if delta and on_text is not None:
                        await on_text(delta)
        except OrqError as exc:
            exc.partial_text = accumulator.text
            raise
        return accumulator.result()

    @asynccontextmanager
    async def stream(self, body: dict[str, Any]) -> AsyncIterator[AsyncIterator[CompletionChunk]]:
        """Open `POST /v2/deployments/stream` and yield its chunks until `[DONE]`."""
        request = self._http.build_request(
            "POST",
            "/v2/deployments/stream",
            json={**body, "stream": True},
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
        return {"Authorization": self._auth, "Accept": accept}

    async def _get_json(self, path: str, model: type[T], params: dict[str, Any] | None = None) -> T:
        return await self._request_json("GET", path, model, params=params)

    async def _request_json(self, method: str, path: str, model: type[T], **kwargs: Any) -> T:
        for attempt in range(self._retry.max_retries + 1):
            try:
                return await self._request_once(method, path, model, **kwargs)
            except (RateLimitError, ServerError, OrqConnectionError, OrqTimeoutError) as error:
                if isinstance(error, ServerError) and error.status not in _RETRYABLE_STATUSES:
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

    async def _request_once(self, method: str, path: str, model: type[T], **kwargs: Any) -> T:
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
            raw = await _read_capped(response, MAX_JSON_BYTES)
        except httpx2.HTTPError as exc:
            raise _transport_error(exc, streaming=True) from None
        finally:
            await response.aclose()
        return _parse(raw, model)


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


def _page_params(limit: int, starting_after: str | None, ending_before: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit}
    if starting_after:
        params["starting_after"] = starting_after
    if ending_before:
        params["ending_before"] = ending_before
    return params


async def _read_capped(response: httpx2.Response, limit: int) -> bytes:
    buffer = bytearray()
    async for piece in response.aiter_bytes():
        buffer += piece
        if len(buffer) > limit:
            raise InvalidResponseError(f"orq's response was larger than {limit // (1024 * 1024)} MB; it was not read.")
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
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise InvalidResponseError("orq answered with a body that is not JSON.") from None
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        raise InvalidResponseError(f"orq's response did not have the expected shape (fields: {fields}).") from None


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(model: type[T]) -> TypeAdapter[T]:
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        adapter = _ADAPTERS[model] = TypeAdapter(model)
    return adapter


async def _iter_chunks(response: httpx2.Response, scrub: Callable[[str], str]) -> AsyncIterator[CompletionChunk]:
    content_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type != "text/event-stream":
        # A gateway or an older orq answering the whole completion as JSON: accept it as one chunk.
        chunk = _parse(await _read_capped(response, MAX_JSON_BYTES), CompletionChunk)
        chunk.is_final = True
        yield chunk
        return
    finished = False
    events = aiter(read_events(response.aiter_bytes(), MAX_JSON_BYTES))
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
        data = json.loads(event.data)
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
