"""Sample deployments whose version history makes the version behind them hard to find.

``ticket-router`` has twelve drafts newer than its live version, more than one page of versions holds.
``greeting-writer`` has two variants, each with a live ``v2``: only the prompt tells which one the deployment
list describes. Both are read by the rule in docs/orq-api.md, "The version behind a deployment".
"""

from __future__ import annotations

from typing import Any

from .versions import make_version

TICKET_ROUTER: dict[str, Any] = {
    "id": "a3c5e7f9-1b2d-4c6e-8a0b-3d5f7a9c1e24",
    "created": "2024-10-02T09:00:00.000Z",
    "updated": "2025-01-10T09:00:00.000Z",
    "key": "ticket-router",
    "description": "Picks the queue an inbound ticket belongs in",
    "prompt_config": {
        "tools": [],
        "model": "gpt-4o-mini",
        "model_type": "chat",
        "model_parameters": {"temperature": 0, "maxTokens": 20},
        "provider": "openai",
        "messages": [
            {"role": "system", "content": "Answer with one queue name. When unsure, answer {{queue}}."},
            {"role": "user", "content": "{{ticket_body}}"},
        ],
    },
    "version": "v3",
}

_ROUTER_LIVE_VARIABLES: list[dict[str, Any]] = [
    {"key": "queue", "value": "general", "description": "Queue for tickets no rule matches"},
    {"key": "ticket_body", "description": "The ticket text"},
]
# Someone is rewriting the prompt in jinja: twelve saved drafts, none of them live.
_ROUTER_DRAFT_MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "Answer with one queue name.{% if queue %} When unsure: {{ queue }}.{% endif %}"},
    {"role": "user", "content": "{{ ticket_body }}"},
]
_ROUTER_DRAFT_VARIABLES: list[dict[str, Any]] = [
    {"key": "queue", "description": "Draft: not live"},
    {"key": "ticket_body", "description": "Draft: not live"},
]
ROUTER_DRAFTS = 12

GREETING_WRITER: dict[str, Any] = {
    "id": "b4d6f8a0-2c3e-4d7f-9b1c-4e6a8b0d2f35",
    "created": "2024-10-01T09:00:00.000Z",
    "updated": "2025-03-05T12:00:00.000Z",
    "key": "greeting-writer",
    "description": "Writes a short greeting for a customer (two variants)",
    "prompt_config": {
        "tools": [],
        "model": "claude-3-5-haiku-20241022",
        "model_type": "chat",
        "model_parameters": {"temperature": 0.7, "maxTokens": 200},
        "provider": "anthropic",
        "messages": [
            {"role": "system", "content": "You write greetings for {{ shop }}."},
            {
                "role": "user",
                "content": "Greet {{ name }}{% if vip %} as one of our VIP customers{% endif %}. "
                "{{ sign_off | default('See you soon!') }}",
            },
        ],
    },
    "version": "v2",
}

# The deployment list shows the first variant; the second (say, for another country) was saved later.
OTHER_VARIANT_ID = "01JQ0V4R1A2N3T4D5E6F7G8H9K"
_GREETING_VARIABLES: list[dict[str, Any]] = [
    {"key": "shop", "value": "Acme Bikes", "description": "Shop the greeting comes from"},
    {"key": "name", "description": "Customer's first name", "is_pii": True},
    {"key": "vip", "description": "Whether the customer is a VIP"},
    {"key": "sign_off", "description": "Closing line"},
]
_OTHER_VARIANT_MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "You write greetings for {{shop}}."},
    {"role": "user", "content": "Say hello to {{name}}."},
]
_OTHER_VARIANT_VARIABLES: list[dict[str, Any]] = [
    {"key": "shop", "value": "Acme Outlet", "description": "Outlet shop"},
    {"key": "name", "value": "friend", "description": "Who to greet"},
]

VERSION_DEPLOYMENTS: tuple[dict[str, Any], ...] = (TICKET_ROUTER, GREETING_WRITER)


def version_samples() -> dict[str, list[dict[str, Any]]]:
    router = [make_version(TICKET_ROUTER, variables=_ROUTER_LIVE_VARIABLES, timestamp="2025-01-10T09:00:00.000Z")]
    router += [
        make_version(
            TICKET_ROUTER,
            engine="jinja",
            status="draft",
            version=f"v{4 + n}",
            timestamp=f"2025-02-{1 + n:02d}T09:00:00.000Z",
            messages=_ROUTER_DRAFT_MESSAGES,
            variables=_ROUTER_DRAFT_VARIABLES,
        )
        for n in range(ROUTER_DRAFTS)
    ]
    greeting = [
        make_version(
            GREETING_WRITER, engine="jinja", variables=_GREETING_VARIABLES, timestamp="2025-03-01T12:00:00.000Z"
        ),
        make_version(
            GREETING_WRITER,
            variant_id=OTHER_VARIANT_ID,
            timestamp="2025-03-05T12:00:00.000Z",
            messages=_OTHER_VARIANT_MESSAGES,
            variables=_OTHER_VARIANT_VARIABLES,
        ),
    ]
    return {"ticket-router": router, "greeting-writer": greeting}
