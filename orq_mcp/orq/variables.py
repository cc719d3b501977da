"""A deployment's template variables, from its live version when orq lets us read it.

Versions carry the template engine and the declared defaults and descriptions; without them
(an older key, a 403, an outage) the placeholders in the deployment's messages are all we know.
The caller caches the answers: each costs one orq call.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import anyio

from orq_mcp.orq.client import OrqClient
from orq_mcp.orq.errors import AuthenticationError, OrqError, PermissionDeniedError
from orq_mcp.orq.models import Deployment, DeploymentVersion
from orq_mcp.orq.templates import Variable, template_variables

logger = logging.getLogger(__name__)

# Versions come newest first and include drafts: one page is enough to find the live one in practice.
VERSIONS_PAGE = 10
# Versions reads in flight at once when a whole catalog is annotated.
CONCURRENCY = 8


async def variables_for(orq: OrqClient, deployment: Deployment) -> list[Variable]:
    variables, _ = await _read(orq, deployment)
    return variables


async def variables_by_key(orq: OrqClient, deployments: Sequence[Deployment]) -> dict[str, list[Variable]]:
    """`variables_for` for many deployments, a few at a time. A key that may not read versions
    (401/403) is not asked again for the rest: their placeholders are used straight away."""
    found: dict[str, list[Variable]] = {}
    forbidden = anyio.Event()
    limiter = anyio.CapacityLimiter(CONCURRENCY)

    async def annotate(deployment: Deployment) -> None:
        async with limiter:
            if forbidden.is_set():
                found[deployment.key] = placeholders(deployment)
                return
            found[deployment.key], refused = await _read(orq, deployment)
            if refused:
                forbidden.set()

    async with anyio.create_task_group() as group:
        for deployment in deployments:
            group.start_soon(annotate, deployment)
    return {d.key: found[d.key] for d in deployments}


def placeholders(deployment: Deployment) -> list[Variable]:
    """What the deployment's messages alone say (the `text` engine's view, references left out)."""
    return template_variables(deployment.prompt_config.messages, "text")


async def _read(orq: OrqClient, deployment: Deployment) -> tuple[list[Variable], bool]:
    """(the variables, whether orq refused this key the versions endpoint)."""
    try:
        page = await orq.deployment_versions(deployment.key, limit=VERSIONS_PAGE)
    except OrqError as exc:
        logger.info("no versions for a deployment (%s); using its placeholders", type(exc).__name__)
        return placeholders(deployment), isinstance(exc, AuthenticationError | PermissionDeniedError)
    version = current_version(page.data, deployment.version)
    if version is None:
        return placeholders(deployment), False
    engine = version.settings.engine if version.settings else None
    return template_variables(deployment.prompt_config.messages, engine, version.variables), False


def current_version(versions: list[DeploymentVersion], deployed: str) -> DeploymentVersion | None:
    """The version orq serves: live and matching the deployment's version, else live, else the newest."""
    if not versions:
        return None
    return min(versions, key=lambda v: (v.status != "live", v.version != deployed))
