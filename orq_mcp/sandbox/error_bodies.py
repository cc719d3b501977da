"""Error bodies in the shapes the SDK declares (orq-ai-sdk 4.17, `deployments.py`, `prompts.py`).

The SDK types two error bodies. `ErrorResponse` `{message, code?: int, details?: [...]}` is declared for a
401 on every route we serve and for a 404 on `GET /v2/prompts/{id}`; `HonoApiError` `{code?: str, message}`
for a 500 on `GET /v2/deployments`. Every other status (400, 403, 404, 409, 422, 429, 5XX) is left
undeclared (`APIDefaultError`, any body). For those the emulator answers `{"message": ...}` [INFER: the one
field both declared shapes share; `check --live` records what orq really sends for an unknown key and a bad
body]. The other shapes orq's docs have shown (an `{"error": {code, message, doc_url}}` envelope, the legacy
`{id, code, error, source}`) are served only when a test asks for them, to show the client reads them too.
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.responses import JSONResponse

INVALID_KEY_MESSAGE = "Invalid API key. Pass a valid key as 'Authorization: Bearer <key>'."
# The routes whose 500 the SDK declares as HonoApiError.
HONO_500_ROUTES = frozenset({"list_deployments"})


class ApiError(Exception):
    """Raised inside handlers; turned into a JSON error response by the app."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


def error_body(message: str) -> dict[str, Any]:
    """`ErrorResponse` without its optional `code` (a gRPC status, which we would only be guessing)."""
    return {"message": message}


def hono_body(message: str = "Internal Server Error") -> dict[str, Any]:
    return {"code": "500", "message": message}


def server_error_body(route: str) -> dict[str, Any]:
    """A 500's body on `route`: HonoApiError where the SDK declares it, else the inferred shape."""
    return hono_body() if route in HONO_500_ROUTES else error_body("Internal Server Error")


def unauthorized_body() -> dict[str, Any]:
    return error_body(INVALID_KEY_MESSAGE)


def bad_request(detail: str, what: str = "Invalid request body") -> ApiError:
    return ApiError(400, error_body(f"{what}: {detail}"))


def deployment_not_found(key: str) -> ApiError:
    return ApiError(404, error_body(f"Deployment with key '{key}' was not found."))


def variant_not_resolved(key: str) -> ApiError:
    return ApiError(422, error_body(f"No variant of deployment '{key}' matches the supplied context."))


def prompt_not_found(prompt_id: str) -> ApiError:
    return ApiError(404, error_body(f"Prompt with id '{prompt_id}' was not found."))


def not_found(what: str) -> ApiError:
    """A 404 for an agent, task, knowledge base or trace: the SDK declares `{message}` for the agents' and
    feedback's 404s; the wording is ours [INFER]."""
    return ApiError(404, error_body(f"{what} was not found."))


def legacy_body(status: int, message: str) -> dict[str, Any]:
    """The legacy shape ``{id, code: int, error: str, source}`` (tests/data/error-404-legacy.json) [DOCS]."""
    return {"id": secrets.token_hex(16), "code": status, "error": message, "source": "system"}


_MESSAGES = {
    400: "Invalid request body: injected fault",
    403: "This API key cannot access the project.",
    404: "Deployment with key 'support-triag' was not found.",
    422: "No variant of deployment 'support-triage' matches the supplied context.",
    500: "Internal Server Error",
    502: "The model provider returned an invalid response.",
    503: "The service is temporarily unavailable. Please retry.",
    504: "The model provider did not respond in time.",
}


def default_status_body(status: int, route: str, retry_after: float | int = 2, legacy: bool = False) -> dict[str, Any]:
    """The body of an injected ``status`` fault on ``route`` when no explicit body is given."""
    if status == 401:
        message = INVALID_KEY_MESSAGE
    elif status == 429:
        message = f"Too many requests. Retry after {format_seconds(retry_after)} seconds."
    else:
        message = _MESSAGES.get(status, f"Request failed with status {status}.")
    if legacy:
        return legacy_body(status, message)
    return hono_body(message) if status == 500 and route in HONO_500_ROUTES else error_body(message)


def format_seconds(value: float | int) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
