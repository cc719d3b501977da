"""Server-side policies through the in-memory client: the deployment allow-list and runaway responses."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from mcp import Client, MCPError

from orq_mcp.config.settings import Settings
from orq_mcp.sandbox import EmulatorState, EmulatorThread, Fault, sample_state
from tests.conftest import API_KEY, connected, held_open
from tests.helpers import error_text
from tests.sdk_schema import sdk_violation

ALLOWED = ("faq-assistant", "support-triage", "release-notes-writer")


@pytest.fixture
async def restricted(settings: Settings) -> AsyncIterator[Client]:
    restricted_settings = settings.model_copy(update={"deployments": frozenset(ALLOWED)})
    async with held_open(connected(restricted_settings, raise_exceptions=True)) as client:
        yield client


async def test_allow_list_limits_listing_and_pages_within_it(restricted: Client) -> None:
    keys, cursor = [], None
    for _ in range(5):
        result = await restricted.call_tool("list_deployments", {"limit": 2} | ({"cursor": cursor} if cursor else {}))
        page = result.structured_content
        assert page is not None
        keys += [d["key"] for d in page["deployments"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(keys) == sorted(ALLOWED)
    result = await restricted.call_tool("list_deployments", {"cursor": "product-copywriter"})
    assert "cursor is not valid" in error_text(result)


@pytest.mark.parametrize("tool", ["get_deployment_config", "invoke_deployment"])
async def test_a_hidden_deployment_is_said_to_be_left_out_by_the_allow_list_and_orq_is_not_called(
    restricted: Client, emulator_state: EmulatorState, tool: str
) -> None:
    message = error_text(await restricted.call_tool(tool, {"key": "product-copywriter"}))
    assert "Deployment 'product-copywriter' is in the workspace, but this server's allow-list" in message
    assert "list_deployments" in message
    assert emulator_state.requests_for("stream") == []
    assert emulator_state.requests_for("get_config") == []


async def test_suggestions_only_name_allowed_deployments(restricted: Client) -> None:
    message = error_text(await restricted.call_tool("invoke_deployment", {"key": "support-triag"}))
    assert "Did you mean 'support-triage'" in message
    message = error_text(await restricted.call_tool("invoke_deployment", {"key": "product-copywriterr"}))
    assert "Did you mean" not in message


async def test_allowed_deployments_still_work(restricted: Client) -> None:
    result = await restricted.call_tool("invoke_deployment", {"key": "faq-assistant"})
    assert not result.is_error


async def test_allow_list_filters_resources(restricted: Client) -> None:
    uris = [r.uri for r in (await restricted.list_resources()).resources]
    assert sorted(uris) == sorted(f"orq://deployments/{k}/prompt_config" for k in ALLOWED)
    with pytest.raises(MCPError, match="not found"):
        await restricted.read_resource("orq://deployments/product-copywriter/prompt_config")


async def test_a_runaway_response_is_cut_off_with_its_start(settings: Settings) -> None:
    # An emulator of its own, so that no other test's connection to it is in play.
    state = sample_state(API_KEY, chunk_delay=0.002, check_body=sdk_violation)
    state.add_fault(Fault("stream", "huge_response", size=3_000_000, chunk_size=4096))
    with EmulatorThread(state) as emulator:
        changes = {"max_response_chars": 100_000, "base_url": emulator.base_url}
        async with held_open(connected(settings.model_copy(update=changes), raise_exceptions=True)) as client:
            message = error_text(await client.call_tool("invoke_deployment", {"key": "faq-assistant"}))
            assert "grew past 100,000 characters" in message
            assert "Ask for a shorter answer" in message
            assert "Text generated before the failure" in message
            assert len(message) < 10_000  # the partial text is quoted, not dumped
            # Reading stopped and the stream's connection was closed, not kept or pooled. (Checked on our side:
            # after the fuzz tests uvicorn in the emulator sometimes notices the close only late.)
            assert not open_connections_to(emulator.base_url)
            assert not (await client.call_tool("invoke_deployment", {"key": "faq-assistant"})).is_error


def open_connections_to(base_url: str) -> list[object]:
    """This process's TCP connections to `base_url`'s port that are still open."""
    import os

    import psutil

    port = int(base_url.rsplit(":", 1)[1])
    return [
        c
        for c in psutil.Process(os.getpid()).net_connections("tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    ]
