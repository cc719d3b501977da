"""Deployment keys that name nothing the caller may use: those named in the settings (`--deployments`,
`--expose`), held against the workspace, and those a call names (left out by the allow-list, or not found).

A key mistyped there was accepted silently, and agents then met "not found" with no hint why. So, once the
server's own deployment list is known, each named key the workspace lacks is logged once, with the closest
key it has; and a call for a deployment the allow-list leaves out says so.

In multi-tenant and query-config modes the allow-list is the operator's, and one list serves many workspaces:
a key one tenant lacks is no typo, and the closest key would be that tenant's. Nothing is logged per tenant
there, and a caller learns only that the deployment it named itself is left out, never what the list holds.
"""

from __future__ import annotations

import difflib
import logging

from mcp.server.mcpserver.exceptions import ToolError

from orq_mcp.config.settings import Settings
from orq_mcp.orq.errors import NotFoundError, OrqError
from orq_mcp.orq.models import Deployment
from orq_mcp.surface.tenant import Tenant
from orq_mcp.surface.tool_errors import not_found, tool_error

logger = logging.getLogger(__name__)

ALLOW_LIST = "ORQ_DEPLOYMENTS / --deployments"
EXPOSE = "ORQ_EXPOSE / --expose"


class NamedKeysCheck:
    """Given to the server's own deployment catalog: checks the named keys against the first list it fetches."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._checked = False

    def __call__(self, deployments: list[Deployment], complete: bool) -> None:
        if self._checked:
            return
        self._checked = True
        for problem in problems(self._settings, [d.key for d in deployments], complete):
            logger.warning("%s", problem)


def problems(settings: Settings, keys: list[str], complete: bool) -> list[str]:
    """What is wrong with the keys the settings name, given the workspace's `keys` (all of them if `complete`)."""
    present = set(keys)
    named = [(ALLOW_LIST, sorted(settings.deployments or ())), (EXPOSE, [k for k in settings.expose if k != "all"])]
    found = []
    for label, names in named:
        for name in names:
            if name in present or not complete:  # a partial list (a huge workspace) cannot prove a key missing
                continue
            close = difflib.get_close_matches(name, keys, n=1)
            hint = f": did you mean '{close[0]}'?" if close else ""
            found.append(f"{label} names '{name}', which this workspace does not have{hint}")
    allowed = settings.deployments
    for name in named[1][1]:
        if allowed is not None and name in present and name not in allowed:
            found.append(f"{EXPOSE} names '{name}', which {ALLOW_LIST} leaves out: it gets no tool")
    return found


async def left_out(tenant: Tenant, key: str) -> ToolError:
    """The answer for a deployment the allow-list leaves out: said so when the workspace has it."""
    keys: set[str] = set()
    try:
        in_workspace = await tenant.deployments.get(key) is not None
        keys = {d.key for d in await tenant.deployments.all()}
    except OrqError:
        in_workspace = False  # orq will not say: the plain answer
    if not in_workspace:
        subject = tenant.subject("deployment", key)
        subject.suggestions = await tenant.suggestions(key)  # among the deployments the caller may see
        return not_found(subject)
    if tenant.settings.per_caller_keys:  # the operator's list: say it is left out, not what is in it
        return ToolError(
            f"Deployment '{key}' is in your workspace, but this server serves only the deployments its operator "
            "chose, and not this one. Call list_deployments to see the ones you can use here."
        )
    unmatched = [name for name in tenant.settings.deployments or () if name not in keys]
    close = difflib.get_close_matches(key, unmatched, n=1)  # the typo that was likely meant for this key
    typo = f" (it names '{close[0]}', which the workspace does not have)" if close else ""
    return ToolError(
        f"Deployment '{key}' is in the workspace, but this server's allow-list ({ALLOW_LIST}) leaves it out, "
        f"so it cannot be used here. To use it, add it to that list in this server's configuration{typo} and "
        "restart the server; or call list_deployments to see the ones you can use."
    )


async def deployment_error(tenant: Tenant, exc: OrqError, key: str) -> ToolError:
    """orq's failure for a call of deployment `key`, in words the agent can act on (close keys for a mistyped one)."""
    subject = tenant.subject("deployment", key)
    if isinstance(exc, NotFoundError):
        subject.suggestions = await tenant.suggestions(key)
    return tool_error(exc, subject)
