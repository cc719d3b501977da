"""Reading tool results in tests, waiting without blocking the event loop, and varying a sample deployment."""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
from mcp_types import CallToolResult, TextContent

from orq_mcp.orq.models import Deployment, DeploymentVersion
from orq_mcp.orq.variables import version_behind
from tests.conftest import API_KEY


class Clock:
    """A clock a test moves by hand (`clock.now += ...`), for code that takes one: no test waits a real TTL."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


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


@contextmanager
def deployment_variant(state: Any, key: str, new_key: str, **parameters: Any) -> Iterator[dict[str, Any]]:
    """While inside: a copy of the emulator's deployment `key`, served as `new_key`, with `parameters` set in its
    model_parameters."""
    workspace = state.workspace_for(API_KEY)
    assert workspace is not None
    original = workspace.deployment(key)
    assert original is not None
    variant = copy.deepcopy(original)
    variant["id"], variant["key"] = str(uuid.uuid4()), new_key
    variant["prompt_config"]["model_parameters"].update(parameters)
    workspace.deployments.append(variant)
    try:
        yield variant
    finally:
        workspace.deployments.remove(variant)


def sample_version(sample: dict[str, Any], saved: list[dict[str, Any]]) -> DeploymentVersion | None:
    """The version the client finds behind a sample deployment, among `saved` listed as the endpoint lists them."""
    newest_first = sorted(saved, key=lambda version: version["timestamp"], reverse=True)
    listed = [DeploymentVersion.model_validate(version) for version in newest_first]
    return version_behind(Deployment.model_validate(sample), listed)
