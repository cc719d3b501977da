"""A deployment's template variables, from the version behind it when orq lets us read it.

Versions carry the template engine and the declared defaults and descriptions; without them
(an older key, a 403, an outage) the placeholders in the deployment's messages are all we know.
The caller caches the answers: each costs one orq call or a few.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import anyio

from orq_mcp.orq.client import OrqClient
from orq_mcp.orq.errors import AuthenticationError, OrqError, PermissionDeniedError
from orq_mcp.orq.models import Deployment, DeploymentVersion, Message
from orq_mcp.orq.templates import Variable, template_variables

logger = logging.getLogger(__name__)

# Versions come newest first, drafts and every variant included. The live version is nearly always among
# the newest few, so the first page is small; later pages take the most orq sends at once.
FIRST_PAGE = 10
PAGE = 50
# Pages read at most for one deployment (960 versions); past them the best version seen is used.
MAX_PAGES = 20
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
        version = await _find_version(orq, deployment)
    except OrqError as exc:
        logger.info("no versions for a deployment (%s); using its placeholders", type(exc).__name__)
        return placeholders(deployment), isinstance(exc, AuthenticationError | PermissionDeniedError)
    if version is None:
        return placeholders(deployment), False
    engine = version.settings.engine if version.settings else None
    return template_variables(deployment.prompt_config.messages, engine, version.variables), False


async def _find_version(orq: OrqClient, deployment: Deployment) -> DeploymentVersion | None:
    """The version behind `deployment`, read page by page until it is certain (or the pages run out).

    A failure after the first page keeps the best version seen: it is still better than none.
    """
    best: DeploymentVersion | None = None
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        try:
            page = await orq.deployment_versions(
                deployment.key, limit=PAGE if cursor else FIRST_PAGE, starting_after=cursor
            )
        except OrqError:
            if best is None:
                raise
            logger.info("versions stopped answering after a page; using the best version seen")
            return best
        best = version_behind(deployment, [*([best] if best else []), *page.data])
        if best is not None and _rank(deployment, best) == _CERTAIN:
            return best
        last = page.data[-1].id if page.data else None
        if not page.has_more or not last or last == cursor:
            break
        cursor = last
    return best


def version_behind(deployment: Deployment, versions: Sequence[DeploymentVersion]) -> DeploymentVersion | None:
    """The version the deployment list describes (docs/orq-api.md, "The version behind a deployment").

    Among `versions` (newest first), ranked: live first, then holding the deployment's own messages,
    then carrying its version number; the newest wins a tie. Every variant has a live version of its
    own and nothing makes numbers unique across variants, so the messages tell which variant the list shows.
    """
    if not versions:
        return None
    return min(versions, key=lambda version: _rank(deployment, version))


_CERTAIN = (False, False, False)


def _rank(deployment: Deployment, version: DeploymentVersion) -> tuple[bool, bool, bool]:
    """Lower is better; ties keep the first (the newest)."""
    return (version.status != "live", not _same_prompt(deployment, version), version.version != deployment.version)


def _same_prompt(deployment: Deployment, version: DeploymentVersion) -> bool:
    held = version.prompt_config.messages if version.prompt_config else None
    return held is not None and _prompt(held) == _prompt(deployment.prompt_config.messages)


def _prompt(messages: Sequence[Message]) -> list[tuple[str, object]]:
    return [(m.role, m.content) for m in messages]
