"""Error bodies in the shapes orq.ai returns (docs/orq-api.md, Errors; samples in tests/data/error-*.json)."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.responses import JSONResponse

DOC_URL = "https://docs.orq.ai/errors/"
INVALID_KEY_MESSAGE = "Invalid API key. Pass a valid key as 'Authorization: Bearer <key>'."


class ApiError(Exception):
    """Raised inside handlers; turned into a JSON error response by the app."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


def envelope(message: str, code: str) -> dict[str, Any]:
    """Top-level ``message`` plus the docs ``error`` envelope, so both parsing styles work."""
    return {"message": message, "error": {"code": code, "message": message, "doc_url": DOC_URL + code}}


def docs_envelope(message: str, code: str) -> dict[str, Any]:
    """The bare docs envelope ``{"error": {code, message, doc_url}}`` without a top-level message."""
    return {"error": {"code": code, "message": message, "doc_url": DOC_URL + code}}


def unauthorized_body() -> dict[str, Any]:
    return {"message": INVALID_KEY_MESSAGE}


def bad_request(detail: str, code: str = "invalid_request_body") -> ApiError:
    prefix = "Invalid request body" if code == "invalid_request_body" else "Invalid request"
    return ApiError(400, envelope(f"{prefix}: {detail}", code))


def deployment_not_found(key: str) -> ApiError:
    return ApiError(404, envelope(f"Deployment with key '{key}' was not found.", "deployment_not_found"))


def variant_not_resolved(key: str) -> ApiError:
    message = f"No variant of deployment '{key}' matches the supplied context."
    return ApiError(422, envelope(message, "variant_not_resolved"))


def prompt_not_found(prompt_id: str) -> ApiError:
    return ApiError(404, {"message": f"Prompt with id '{prompt_id}' was not found."})


def legacy_body(status: int, message: str) -> dict[str, Any]:
    """The legacy shape ``{id, code: int, error: str, source}`` (examples/error-404-legacy.json)."""
    return {"id": secrets.token_hex(16), "code": status, "error": message, "source": "system"}


_GATEWAY = {
    502: ("provider_error", "The model provider returned an invalid response."),
    503: ("service_unavailable", "The service is temporarily unavailable. Please retry."),
    504: ("gateway_timeout", "The model provider did not respond in time."),
}
_ENVELOPED = {
    400: ("invalid_request_body", "Invalid request body: injected fault"),
    403: ("forbidden", "This API key cannot access the project."),
    404: ("deployment_not_found", "Deployment with key 'support-triag' was not found."),
    422: ("variant_not_resolved", "No variant of deployment 'support-triage' matches the supplied context."),
}


def default_status_body(status: int, retry_after: float | int = 2, legacy: bool = False) -> dict[str, Any]:
    """The body of an injected ``status`` fault when no explicit body is given (one shape per status)."""
    if status == 401:
        message = INVALID_KEY_MESSAGE
        body: dict[str, Any] = unauthorized_body()
    elif status == 429:
        message = f"Too many requests. Retry after {format_seconds(retry_after)} seconds."
        body = envelope(message, "rate_limit_exceeded")
    elif status == 500:
        message = "Internal Server Error"
        body = {"code": "500", "message": message}  # HonoApiError
    elif status in _GATEWAY:
        code, message = _GATEWAY[status]
        body = docs_envelope(message, code)
    else:
        code, message = _ENVELOPED.get(status, ("error", f"Request failed with status {status}."))
        body = envelope(message, code)
    return legacy_body(status, message) if legacy else body


def format_seconds(value: float | int) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
