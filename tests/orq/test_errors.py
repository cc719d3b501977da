"""Error bodies in every shape orq uses (docs/orq-api.md, Errors), mapped to typed errors."""

from __future__ import annotations

import json

import pytest

from orq_mcp.orq.errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    OrqAPIError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnprocessableError,
    error_for_status,
    extract_message,
    parse_retry_after,
)
from tests.paths import DATA

EXAMPLES = DATA


def example(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


@pytest.mark.parametrize(
    ("file", "status", "cls", "message", "code"),
    [
        ("error-400-invalid-body.json", 400, BadRequestError, "Invalid request body: 'key' is required", None),
        ("error-401.json", 401, AuthenticationError, "Invalid API key.", None),
        (
            "error-401-docs-envelope.json",
            401,
            AuthenticationError,
            "The API key in the Authorization",
            "invalid_api_key",
        ),
        (
            "error-404-deployment.json",
            404,
            NotFoundError,
            "Deployment with key 'support-triag'",
            "deployment_not_found",
        ),
        ("error-404-legacy.json", 404, NotFoundError, "Deployment with key 'support-triag' was not found.", "404"),
        ("error-422-variant.json", 422, UnprocessableError, "No variant of deployment", "variant_not_resolved"),
        ("error-429.json", 429, RateLimitError, "Too many requests.", "rate_limit_exceeded"),
        ("error-500-hono.json", 500, ServerError, "Internal Server Error", "500"),
    ],
)
def test_every_example_body_gives_its_class_and_message(
    file: str, status: int, cls: type[OrqAPIError], message: str, code: str | None
) -> None:
    error = error_for_status(status, example(file), {})
    assert type(error) is cls
    assert error.status == status
    assert error.message.startswith(message)
    if code is not None:
        assert error.code == code


def test_message_order_prefers_top_level_then_nested_then_string_error() -> None:
    assert extract_message({"message": "top", "error": {"message": "nested"}}, "x")[0] == "top"
    assert extract_message({"error": {"message": "nested"}}, "x")[0] == "nested"
    assert extract_message({"error": "plain"}, "x")[0] == "plain"
    assert extract_message({"unexpected": 1}, "fallback")[0] == "fallback"


def test_html_and_empty_bodies_fall_back_to_the_status() -> None:
    html = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    assert error_for_status(502, html, {}).message == "orq returned HTTP 502"
    assert error_for_status(503, b"", {}).message == "orq returned HTTP 503"
    assert error_for_status(504, b"upstream timed out", {}).message == "upstream timed out"


def test_long_bodies_are_trimmed_to_one_line() -> None:
    error = error_for_status(500, json.dumps({"message": "boom\n" * 500}).encode(), {})
    assert "\n" not in error.message
    assert len(error.message) <= 300


def test_unknown_statuses_map_by_family() -> None:
    assert type(error_for_status(418, b"{}", {})) is OrqAPIError
    assert type(error_for_status(507, b"{}", {})) is ServerError
    assert type(error_for_status(403, b"{}", {})) is PermissionDeniedError


def test_retry_after_in_seconds_or_milliseconds() -> None:
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None
    assert parse_retry_after({}) is None
    error = error_for_status(429, example("error-429.json"), {"retry-after": "7"})
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 7.0
