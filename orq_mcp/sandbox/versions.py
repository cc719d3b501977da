"""Deployment versions (``GET /v2/deployments/{key_or_id}/versions``, SDK 4.17 ``ListDeploymentVersionsData``).

A version carries what the deployment list leaves out: the template ``settings.engine`` (text, jinja,
mustache) and the declared ``variables`` with their default ``value``, ``description`` and ``is_pii``.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from .render import VARIABLE, message_text
from .template_engines import TemplateSettings

VARIANT_ID = "01JQ0V4R1A2N3T4D5E6F7G8H9J"


def make_version(
    deployment: Mapping[str, Any],
    *,
    engine: str = "text",
    variables: Iterable[Mapping[str, Any]] | None = None,
    status: str = "live",
    version: str | None = None,
    timestamp: str | None = None,
    variant_id: str = VARIANT_ID,
    messages: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A version of ``deployment`` in the SDK's wire shape; ``variables`` default to its placeholders.

    ``messages`` are the version's own (a draft's edits, another variant's prompt); by default the deployment's.
    """
    config = deployment["prompt_config"]
    number = version or deployment["version"]
    shown: list[dict[str, Any]] = messages if messages is not None else config["messages"]
    declared = list(variables) if variables is not None else _placeholders(shown)
    return {
        "_id": _version_id(deployment["key"], number, status, variant_id),
        "deployment_id": deployment["id"],
        "variant_id": variant_id,
        "prompt_config": {
            "model": config["model"],
            "model_db_id": f"{config['provider']}/{config['model']}",
            "model_type": config["model_type"],
            "model_parameters": copy.deepcopy(config.get("model_parameters") or {}),
            "provider": config["provider"],
            "messages": copy.deepcopy(shown),
            "version": number,
        },
        "fallbacks": [],
        "tools": copy.deepcopy(config.get("tools") or []),
        "variables": [{"is_pii": False, **copy.deepcopy(dict(v))} for v in declared],
        "timestamp": timestamp or deployment["updated"],
        "version": number,
        "description": deployment.get("description") or "",
        "status": status,
        "user_id": None,
        "settings": {"engine": engine},
    }


def template_settings(deployment: Mapping[str, Any], versions: list[dict[str, Any]]) -> TemplateSettings:
    """What orq renders the deployment's messages with: the version behind them; text without any version."""
    chosen = version_behind(deployment, versions)
    if chosen is None:
        return TemplateSettings()
    defaults = {v["key"]: v["value"] for v in chosen.get("variables", []) if v.get("value") not in (None, "")}
    return TemplateSettings(engine=(chosen.get("settings") or {}).get("engine") or "text", defaults=defaults)


def version_behind(deployment: Mapping[str, Any], versions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The version whose prompt the deployment list shows (docs/orq-api.md, "The version behind a deployment").

    Ranked: live first, then holding the deployment's own messages, then carrying its version number;
    the newest wins a tie. The emulator serves the listed prompt for every routing context, so this is
    also the version it renders with.
    """
    if not versions:
        return None
    listed = _prompt(deployment["prompt_config"]["messages"])

    def rank(version: Mapping[str, Any]) -> tuple[bool, bool, bool]:
        held = (version.get("prompt_config") or {}).get("messages")
        same = held is not None and _prompt(held) == listed
        return version.get("status") != "live", not same, version.get("version") != deployment["version"]

    return min(sorted(versions, key=lambda v: v["timestamp"], reverse=True), key=rank)


def _prompt(messages: Iterable[Mapping[str, Any]]) -> list[tuple[Any, Any]]:
    return [(m.get("role"), m.get("content")) for m in messages]


def _placeholders(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = dict.fromkeys(n for m in messages for n in VARIABLE.findall(message_text(m)) if "." not in n)
    return [{"key": name} for name in names]


def _version_id(key: str, number: str, status: str, variant_id: str) -> str:
    # Stable per (deployment, variant, version, status), so cursors survive a restart of the sandbox; the first
    # variant's ids leave the variant out, as they always have.
    variant = "" if variant_id == VARIANT_ID else f"{variant_id}/"
    digest = hashlib.sha256(f"{variant}{key}/{number}/{status}".encode()).digest()
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    return "01" + "".join(alphabet[b % 32] for b in digest[:24])
