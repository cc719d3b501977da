"""A deployment's template variables, from its live version when orq lets us read it.

Versions carry the template engine and the declared defaults and descriptions; without them
(an older key, a 403, an outage) the placeholders in the deployment's messages are all we know.
The caller caches the answer: it costs one orq call per deployment.
"""

from __future__ import annotations

import logging

from orq_mcp.orq.client import OrqClient
from orq_mcp.orq.errors import OrqError
from orq_mcp.orq.models import Deployment, DeploymentVersion
from orq_mcp.orq.templates import Variable, template_variables

logger = logging.getLogger(__name__)

# Versions come newest first and include drafts: one page is enough to find the live one in practice.
VERSIONS_PAGE = 10


async def variables_for(orq: OrqClient, deployment: Deployment) -> list[Variable]:
    messages = deployment.prompt_config.messages
    try:
        page = await orq.deployment_versions(deployment.key, limit=VERSIONS_PAGE)
    except OrqError as exc:
        logger.info("no versions for a deployment (%s); using its placeholders", type(exc).__name__)
        return template_variables(messages, "text")
    version = current_version(page.data, deployment.version)
    if version is None:
        return template_variables(messages, "text")
    engine = version.settings.engine if version.settings else None
    return template_variables(messages, engine, version.variables)


def current_version(versions: list[DeploymentVersion], deployed: str) -> DeploymentVersion | None:
    """The version orq serves: live and matching the deployment's version, else live, else the newest."""
    if not versions:
        return None
    return min(versions, key=lambda v: (v.status != "live", v.version != deployed))
