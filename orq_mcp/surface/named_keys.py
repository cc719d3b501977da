"""The deployment keys named in the settings (`--deployments`, `--expose`), held against the workspace.

A key mistyped there was accepted silently, and agents then met "not found" with no hint why. So, once the
server's own deployment list is known, each named key the workspace lacks is logged once, with the closest
key it has; and a call for a deployment the allow-list leaves out says so (the tenant's refusal, tenant.py).

In multi-tenant and query-config modes the allow-list is the operator's, and one list serves many workspaces:
a key one tenant lacks is no typo, and the closest key would be that tenant's. Nothing is logged per tenant
there, and a caller learns only that the deployment it named itself is left out, never what the list holds.
"""

from __future__ import annotations

import difflib
import logging

from orq_mcp.config.settings import Settings
from orq_mcp.orq.models import Deployment

logger = logging.getLogger(__name__)

ALLOW_LIST = "ORQ_DEPLOYMENTS / --deployments"
AGENT_ALLOW_LIST = "ORQ_MCP_AGENTS / --agents"
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
