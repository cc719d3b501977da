"""Errors raised by the orq client, keyed on what went wrong rather than on HTTP details.

Messages are built only from orq's own error text and our wording: never from URLs,
headers or the API key, so every message is safe to show an agent or write to a log.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

# JSON nested past what a parser's recursion allows: a malformed answer, never a crash.
DEEP_JSON = "orq sent JSON nested too deeply to read."
# orq bodies come in four shapes (docs/orq-api.md, Errors); a long HTML page or stack trace is cut here.
_MAX_DETAIL = 300


class OrqError(Exception):
    """Base class for every failure talking to orq."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        # Text already streamed to the caller before the failure (set by the client's invoke), so it is never
        # silently lost.
        self.partial_text = ""


class OrqAPIError(OrqError):
    """orq answered with an HTTP error status."""

    status: int = 0

    def __init__(self, message: str, *, status: int, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class BadRequestError(OrqAPIError):
    """400: the request body or parameters were rejected."""


class AuthenticationError(OrqAPIError):
    """401: the API key is missing or not valid."""


class PermissionDeniedError(OrqAPIError):
    """403: the key is valid but may not access this project or resource."""


class NotFoundError(OrqAPIError):
    """404: the deployment, prompt or cursor does not exist."""


class UnprocessableError(OrqAPIError):
    """422: understood but not servable (no variant matched, provider credentials invalid, ...)."""


class RateLimitError(OrqAPIError):
    """429: too many requests; `retry_after` seconds is orq's hint when it gave one."""

    def __init__(self, message: str, *, status: int, code: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


class ServerError(OrqAPIError):
    """5xx: orq or the model provider failed."""


class OrqTimeoutError(OrqError):
    """orq did not answer (or stopped answering) within the timeout."""


class OrqConnectionError(OrqError):
    """orq could not be reached at all."""

    def __init__(self, message: str, *, request_sent: bool) -> None:
        super().__init__(message)
        # False when the connection was never established: the request provably never reached orq.
        self.request_sent = request_sent


class InvalidResponseError(OrqError):
    """orq answered with something that is not the JSON we expect.

    `retryable`: the body was JSON nested too deeply to read, which a glitch or a misbehaving proxy may
    produce: a read may try again. (A body of the wrong shape or size would come back the same.)
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class BodyTooLargeError(InvalidResponseError):
    """orq's answer was larger than the server reads; a page of fewer items may fit."""


class TooManyStreamsError(OrqError):
    """The server is already running as many invocations as it allows (for this key, or in all)."""


class InvocationTimeoutError(OrqTimeoutError):
    """The invocation as a whole ran past its deadline (however steadily text was still arriving)."""


class StreamError(OrqError):
    """orq reported an error in the middle of a stream."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class AgentRunError(StreamError):
    """An agent's run failed (`response.failed`); `task_id` names the task, to read or continue it."""

    def __init__(self, message: str, *, code: str | None = None, task_id: str | None = None) -> None:
        super().__init__(message, code=code)
        self.task_id = task_id


class StreamInterruptedError(OrqError):
    """The stream ended before orq said it was complete (no final chunk, no [DONE])."""


class NoContentError(OrqError):
    """orq answered 204 No Content: the SDK declares it for get_config and invoke; when orq sends it is undocumented."""

    status = 204


class ResponseTooLargeError(OrqError):
    """The generation grew past the server's limit, so reading stopped."""


_STATUS_CLASSES: dict[int, type[OrqAPIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: UnprocessableError,
    429: RateLimitError,
}


def extract_message(body: Any, fallback: str) -> tuple[str, str | None]:
    """Find the human message and machine code in any of orq's error body shapes.

    Order from docs/orq-api.md, Errors: `message`, then `error.message`, then `error` as a string,
    then the raw body (trimmed).
    """
    if isinstance(body, dict):
        error = body.get("error")
        code = _code_of(body, error)
        for candidate in (body.get("message"), error.get("message") if isinstance(error, dict) else None, error):
            if isinstance(candidate, str) and candidate.strip():
                return _trim(candidate), code
        return fallback, code
    if isinstance(body, str) and body.strip() and not body.lstrip().startswith("<"):
        return _trim(body), None
    return fallback, None


def _code_of(body: dict[str, Any], error: Any) -> str | None:
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        return error["code"]
    code = body.get("code")
    return str(code) if isinstance(code, str | int) else None


def _trim(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def parse_body(raw: bytes, scrub: Callable[[str], str] = str) -> Any:
    """Decode an error body as JSON when possible, else as text; `scrub` sees every string.

    JSON is parsed before scrubbing: a key written with escapes (`\\u0042earer sk-...`) is only
    recognisable once they are undone.
    """
    text = raw.decode("utf-8", errors="replace")
    try:
        body = loads_json(text)
    except ValueError:
        return scrub(text)
    try:
        return _scrub_strings(body, scrub)
    except RecursionError:  # parsed just below the limit, but too deep to walk: as malformed as deeper
        raise InvalidResponseError(DEEP_JSON, retryable=True) from None


def _scrub_strings(value: Any, scrub: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(str(k)): _scrub_strings(v, scrub) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_strings(v, scrub) for v in value]
    return value


def loads_json(text: str | bytes) -> Any:
    """`json.loads`, except that JSON nested past Python's recursion limit is a malformed response.

    `RecursionError` is no `ValueError`: uncaught, it would skip retries and reach the agent as a crash.
    """
    try:
        return json.loads(text)
    except RecursionError:
        raise InvalidResponseError(DEEP_JSON, retryable=True) from None


def parse_retry_after(headers: dict[str, str]) -> float | None:
    """Read `retry-after-ms` or `retry-after` (seconds); HTTP-date values are ignored."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            continue
        if seconds >= 0:
            return seconds
    return None


def error_for_status(
    status: int, raw_body: bytes, headers: dict[str, str], scrub: Callable[[str], str] = str
) -> OrqAPIError:
    """Build the typed error for an HTTP error response.

    `scrub` removes secrets from the body before anything is cut to length: a key that
    straddled the cut would otherwise survive as a fragment no redactor recognises.
    """
    message, code = extract_message(parse_body(raw_body, scrub), f"orq returned HTTP {status}")
    if status == 429:
        return RateLimitError(message, status=status, code=code, retry_after=parse_retry_after(headers))
    cls = _STATUS_CLASSES.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else OrqAPIError
    return cls(message, status=status, code=code)
