"""Checking request bodies against the official SDK's request models: the emulator's strict body check in the
tests (`EmulatorState(check_body=sdk_violation)`).

orq-ai-sdk is a test-only dependency, so this lives with the tests, never in the package.
The SDK's models ignore fields they do not know, which would hide a misspelt one, so a body
must also use only fields the SDK models name (plus the `stream` flag the SDK itself adds).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any, Final

# Route name -> the SDK request model of its body (orq_ai_sdk.models).
DEPLOYMENT_REQUEST_MODELS: Final = {
    "stream": "DeploymentStreamRequestBody",
    "invoke": "InvokeDeploymentRequest",
    "get_config": "DeploymentGetConfigRequestBody",
}
RUNTIME_REQUEST_MODELS: Final = {
    "agent_response": "AgentResponseRequest",
    "knowledge_search": "SearchKnowledgeRequest",
    "feedback": "PostV2FeedbackRequestBody",
}
SDK_REQUEST_MODELS: Final = {**DEPLOYMENT_REQUEST_MODELS, **RUNTIME_REQUEST_MODELS}
# The SDK's request hook sets `stream` on the three deployment routes (on an agent response it is the body's own).
_ADDED_BY_SDK: Final = frozenset({"stream"})
_HOOKED_ROUTES: Final = frozenset(DEPLOYMENT_REQUEST_MODELS)


def sdk_violation(route: str, body: Any) -> str | None:
    """Why the SDK's request model for `route` rejects `body`, or None when it accepts it."""
    from pydantic import ValidationError

    model = _model(SDK_REQUEST_MODELS[route])
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    added = _ADDED_BY_SDK if route in _HOOKED_ROUTES else frozenset()
    try:
        parsed = model.model_validate({k: v for k, v in body.items() if k not in added})
    except ValidationError as exc:
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False))
    try:
        dumped = json.loads(parsed.model_dump_json(by_alias=True))
    except ValueError:  # nested deeper than pydantic serializes: only free-form values (inputs, metadata) nest so
        return None
    unknown = unknown_keys(body, dumped, "", skip=added)
    return f"fields the SDK does not know: {', '.join(unknown)}" if unknown else None


def unknown_keys(payload: Any, dumped: Any, where: str, skip: frozenset[str] = frozenset()) -> list[str]:
    """Paths in `payload` that the SDK model's dump of it does not have (null values aside: the SDK drops them)."""
    found: list[str] = []
    if isinstance(payload, dict) and isinstance(dumped, dict):
        for key, value in payload.items():
            path = f"{where}.{key}" if where else key
            if value is None or key in skip:
                continue
            if key not in dumped:
                found.append(path)
            else:
                found += unknown_keys(value, dumped[key], path)
    elif isinstance(payload, list) and isinstance(dumped, list) and len(payload) == len(dumped):
        for index, (item, dumped_item) in enumerate(zip(payload, dumped, strict=True)):
            found += unknown_keys(item, dumped_item, f"{where}.{index}")
    return found


@cache
def _model(name: str) -> Any:
    from orq_ai_sdk import models

    return getattr(models, name)
