"""The live lists compare orq's lists with what clients were last shown, even when a refresh runs late.

The first refresh has no list of its own to compare with, so it takes the caches'. Once a cache has
expired (the refresh ran late, or the machine was busy), reading it refetches, and the baseline would
already hold what changed: a deployment added in the first TTL window was then never announced.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace

import pytest
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.shared.subscriptions import ServerEvent

from orq_mcp.config.settings import Settings
from orq_mcp.orq.catalog import agent_catalog, deployment_catalog, prompt_catalog
from orq_mcp.orq.client import OrqClient, create_http_client
from orq_mcp.sandbox import EmulatorState
from orq_mcp.surface.listings import snapshot
from orq_mcp.surface.live import LiveLists
from orq_mcp.surface.tenant import Tenant
from orq_mcp.surface.tenants import new_tenant
from orq_mcp.surface.toolsets import FIXED_TOOL_NAMES
from orq_mcp.surface.toolsets.exposed import ExposedTools
from tests.conftest import API_KEY, FAST_RETRY
from tests.helpers import Clock, deployment_variant

TTL = 60.0


@pytest.fixture
def add_deployment(emulator_state: EmulatorState) -> Iterator[Callable[[], object]]:
    """Adds a deployment to the workspace when called; it is removed after the test."""
    with ExitStack() as stack:
        yield lambda: stack.enter_context(deployment_variant(emulator_state, "faq-assistant", "returns-helper"))


def timed_tenant(settings: Settings, orq: OrqClient, clock: Clock) -> Tenant:
    tenant = new_tenant(settings, orq, API_KEY)
    return replace(
        tenant,
        deployments=deployment_catalog(tenant.orq, TTL, clock=clock),
        prompts=prompt_catalog(tenant.orq, TTL, clock=clock),
        agents=agent_catalog(tenant.orq, TTL, clock=clock),
    )


async def first_refresh(settings: Settings, late_by: float, change: Callable[[], object] | None = None) -> list[str]:
    """What the first refresh announces when clients listed at 0 s, `change` came at 1 s and the refresh at
    TTL + `late_by`."""
    clock, bus, heard = Clock(), InMemorySubscriptionBus(), []

    def listener(event: ServerEvent) -> None:
        heard.append(type(event).__name__)

    bus.subscribe(listener)
    settings = settings.model_copy(update={"expose": ("all",), "cache_ttl": TTL})
    async with create_http_client(settings.base_url) as http:
        tenant = timed_tenant(settings, OrqClient(http, "", retry=FAST_RETRY), clock)
        exposed = ExposedTools(FIXED_TOOL_NAMES)
        live = LiveLists(bus, functools.partial(snapshot, exposed, tenant))
        # A client lists tools, resources and prompts, as tools/list, resources/list and prompts/list do.
        await exposed.of(tenant, settings.reachable_toolsets)
        await tenant.visible_deployments()
        await tenant.prompts.all()
        listed_at = clock.now
        clock.now += 1.0
        if change is not None:
            change()
        clock.now = listed_at + TTL + late_by
        await live.refresh()
    return heard


@pytest.mark.parametrize("late_by", [-1.0, 0.0, 5.0], ids=["on-time", "at-expiry", "late"])
async def test_a_deployment_added_before_the_first_refresh_is_announced(
    settings: Settings, add_deployment: Callable[[], object], late_by: float
) -> None:
    heard = await first_refresh(settings, late_by, add_deployment)
    assert {"ToolsListChanged", "ResourcesListChanged"} <= set(heard), heard


@pytest.mark.parametrize("late_by", [-1.0, 5.0], ids=["on-time", "late"])
async def test_nothing_is_announced_when_nothing_changed(settings: Settings, late_by: float) -> None:
    assert await first_refresh(settings, late_by) == []
