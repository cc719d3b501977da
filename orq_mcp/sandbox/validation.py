"""Validation of the JSON body shared by get_config, invoke and stream (docs/orq-api.md, Request body)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from .error_bodies import bad_request

MESSAGE_ROLES: Final = frozenset({"system", "developer", "user", "assistant", "tool"})
_OBJECT_FIELDS: Final = ("inputs", "context", "metadata", "invoke_options", "extra_params", "knowledge_filter")
_MESSAGE_LISTS: Final = ("prefix_messages", "messages")


@dataclass(frozen=True)
class DeploymentRequest:
    key: str
    inputs: dict[str, Any]
    context: dict[str, Any]
    prefix_messages: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    include_usage: bool
    include_retrievals: bool
    mock_response: str | None
    documents: tuple[str, ...] = ()  # the texts of `documents`, which a rerank deployment ranks [EMU]


def parse_deployment_request(body: Any) -> DeploymentRequest:
    """Check ``body`` (already JSON-decoded; ``None`` when it was not JSON) or raise a 400 ``ApiError``."""
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    key = body.get("key")
    if key is None:
        raise bad_request("'key' is required")
    if not isinstance(key, str) or not key:
        raise bad_request("'key' must be a non-empty string")
    for name in _OBJECT_FIELDS:
        if body.get(name) is not None and not isinstance(body[name], dict):
            raise bad_request(f"'{name}' must be an object")
    lists = {name: _message_list(body.get(name), name) for name in _MESSAGE_LISTS}
    _check_optional_shapes(body)
    options: dict[str, Any] = body.get("invoke_options") or {}
    for flag in ("include_usage", "include_retrievals"):
        if options.get(flag) is not None and not isinstance(options[flag], bool):
            raise bad_request(f"'invoke_options.{flag}' must be a boolean")
    mock = options.get("mock_response")
    if mock is not None and not isinstance(mock, str):
        raise bad_request("'invoke_options.mock_response' must be a string")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise bad_request("'stream' must be a boolean")
    return DeploymentRequest(
        key=key,
        inputs=body.get("inputs") or {},
        context=body.get("context") or {},
        prefix_messages=lists["prefix_messages"],
        messages=lists["messages"],
        include_usage=bool(options.get("include_usage")),
        include_retrievals=bool(options.get("include_retrievals")),
        mock_response=mock,
        documents=tuple(d["text"] for d in body.get("documents") or []),
    )


def _message_list(value: Any, name: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_request(f"'{name}' must be an array of messages")
    for index, message in enumerate(value):
        where = f"'{name}[{index}]'"
        if not isinstance(message, dict):
            raise bad_request(f"{where} must be an object")
        role = message.get("role")
        if not isinstance(role, str):
            raise bad_request(f"{where}.role is required and must be a string")
        if role not in MESSAGE_ROLES:
            raise bad_request(f"{where}.role must be one of {', '.join(sorted(MESSAGE_ROLES))}")
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise bad_request(f"{where}.content must be a string, an array of content parts or null")
        if isinstance(content, list) and not all(
            isinstance(part, dict) and isinstance(part.get("type"), str) for part in content
        ):
            raise bad_request(f"{where}.content parts must be objects with a string 'type'")
    return value


def _check_optional_shapes(body: dict[str, Any]) -> None:
    identity, thread = body.get("identity"), body.get("thread")
    if identity is not None and not (isinstance(identity, dict) and isinstance(identity.get("id"), str)):
        raise bad_request("'identity' must be an object with a string 'id'")
    if thread is not None and not (isinstance(thread, dict) and isinstance(thread.get("id"), str)):
        raise bad_request("'thread' must be an object with a string 'id'")
    file_ids = body.get("file_ids")
    if file_ids is not None and not (isinstance(file_ids, list) and all(isinstance(f, str) for f in file_ids)):
        raise bad_request("'file_ids' must be an array of strings")
    documents = body.get("documents")
    if documents is not None and not (
        isinstance(documents, list) and all(isinstance(d, dict) and isinstance(d.get("text"), str) for d in documents)
    ):
        raise bad_request("'documents' must be an array of objects with a string 'text'")
