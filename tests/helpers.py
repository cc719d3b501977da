"""Reading tool results in tests, and waiting without blocking the event loop."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio
from mcp_types import CallToolResult, TextContent

from orq_mcp.orq.models import Deployment, DeploymentVersion
from orq_mcp.orq.variables import version_behind


def text_of(result: CallToolResult) -> str:
    """The one text block every orq-mcp tool result has."""
    assert len(result.content) == 1, result.content
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def ok(result: CallToolResult) -> dict[str, Any]:
    """The structured content of a successful result."""
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    """The message of a failed result."""
    assert result.is_error, result
    return text_of(result)


async def wait_until(predicate: Callable[[], object], within: float) -> bool:
    """Poll without blocking the event loop (a client's transport tasks must keep running meanwhile)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        await anyio.sleep(0.01)
    return bool(predicate())


def names(variables: list[dict[str, Any]]) -> list[str]:
    """The names in a tool result's `variables` (each a {name, required, default?, description?} object)."""
    return [variable["name"] for variable in variables]


def sample_version(sample: dict[str, Any], saved: list[dict[str, Any]]) -> DeploymentVersion | None:
    """The version the client finds behind a sample deployment, among `saved` listed as the endpoint lists them."""
    newest_first = sorted(saved, key=lambda version: version["timestamp"], reverse=True)
    listed = [DeploymentVersion.model_validate(version) for version in newest_first]
    return version_behind(Deployment.model_validate(sample), listed)
