"""Sample deployments that exercise orq's template features: jinja, mustache, Skills and snippets, defaults.

``account-review`` reads its inputs in every way that types or frees one (docs/orq-api.md, Template variables):
an object's fields, a list it loops over, a flag and a value it only tests, and a `default` filter.
"""

from __future__ import annotations

from typing import Any

from .versions import make_version

# What orq would expand `{{skill.<key>}}`, `{{snippet.<name>}}` and `{{snippet:<key>}}` to.
SAMPLE_REFERENCES: dict[str, str] = {
    "skill.refund-policy": "[Skill refund-policy] Refunds are issued within 14 days of a return; "
    "opened items get store credit.",
    "snippet.signature": "[Snippet signature] Kind regards, the Acme Bikes team",
    "snippet:legal_footer": "[Snippet legal_footer] Acme Bikes B.V., Amsterdam.",
}

ONBOARDING_EMAIL: dict[str, Any] = {
    "id": "3c1a9f4e-7b2d-4e8a-b5c6-0d9e8f7a6b51",
    "created": "2024-11-08T10:02:11.300Z",
    "updated": "2025-04-09T15:20:42.118Z",
    "key": "onboarding-email",
    "description": "Writes a welcome email for a new customer (jinja template)",
    "prompt_config": {
        "tools": [],
        "model": "gpt-4o",
        "model_type": "chat",
        "model_parameters": {"temperature": 0.6, "maxTokens": 700},
        "provider": "openai",
        "messages": [
            {
                "role": "system",
                "content": "You write onboarding emails for {{ company }}. Tone: {{ tone | lower }}.",
            },
            {
                "role": "user",
                "content": "Write a welcome email to {{ customer.first_name }}."
                "{% if plan == 'pro' %} Mention the Pro features.{% endif %}\n"
                "First steps:\n{% for step in steps %}- {{ step }}\n{% endfor %}",
            },
        ],
    },
    "version": "v2",
}

ONBOARDING_VARIABLES: list[dict[str, Any]] = [
    {"key": "company", "value": "Acme Bikes", "description": "Company the email is sent from"},
    {"key": "tone", "value": "Friendly", "description": "Tone of voice"},
    {"key": "customer", "description": "The new customer, an object with first_name", "is_pii": True},
    {"key": "plan", "value": "basic", "description": "Subscription plan: basic or pro"},
    {"key": "steps", "description": "List of setup steps to mention"},
]

ORDER_DIGEST: dict[str, Any] = {
    "id": "8e2d4c6a-1f3b-4a5c-9d7e-2b4f6a8c0e13",
    "created": "2024-11-07T09:45:30.010Z",
    "updated": "2025-04-07T09:45:30.010Z",
    "key": "order-digest",
    "description": "Summarises an order for the customer (mustache template)",
    "prompt_config": {
        "tools": [],
        "model": "mistral-large-latest",
        "model_type": "chat",
        "model_parameters": {"temperature": 0.2, "maxTokens": 300},
        "provider": "mistral",
        "messages": [
            {
                "role": "user",
                "content": "Summarise this order for {{customer_name}}.\n"
                "{{#items}}- {{name}} x{{quantity}}\n{{/items}}{{^items}}The order is empty.\n{{/items}}"
                "Note: {{{note}}}",
            }
        ],
    },
    "version": "v1",
}

ORDER_DIGEST_VARIABLES: list[dict[str, Any]] = [
    {"key": "customer_name", "description": "Customer's first name", "is_pii": True},
    {"key": "items", "description": "Order lines: a list of {name, quantity}"},
    {"key": "note", "value": "none", "description": "Free-text note from the shop"},
]

REFUND_ASSISTANT: dict[str, Any] = {
    "id": "b7f3e1d9-5c2a-4b8e-a6d4-9f1c3e5a7b20",
    "created": "2024-11-06T14:12:05.550Z",
    "updated": "2025-04-06T16:40:19.871Z",
    "key": "refund-assistant",
    "description": "Answers refund questions using the refund-policy Skill",
    "prompt_config": {
        "tools": [],
        "model": "claude-3-5-haiku-20241022",
        "model_type": "chat",
        "model_parameters": {"temperature": 0.3, "maxTokens": 500},
        "provider": "anthropic",
        "messages": [
            {
                "role": "system",
                "content": "{{skill.refund-policy}}\nSign off with: {{snippet.signature}}\n{{snippet:legal_footer}}",
            },
            {"role": "user", "content": "{{customer_name}} asks: {{question}} (store: {{store}})"},
        ],
    },
    "version": "v3",
}

REFUND_VARIABLES: list[dict[str, Any]] = [
    {"key": "customer_name", "description": "Who is asking", "is_pii": True},
    {"key": "question", "description": "The customer's question"},
    {"key": "store", "value": "webshop", "description": "Where the item was bought"},
]

REFUND_REPLY_PROMPT: dict[str, Any] = {
    "_id": "01JQ5B2C4D6E8F0G2H4J6K8M0P",
    "type": "prompt",
    "owner": "vendor",
    "domain_id": "5d3b7a9e-1c2f-4e6a-8b0d-9f1e2a3c4b5d",
    "created": "2024-11-06T17:00:00.000Z",
    "updated": "2025-04-06T17:00:00.000Z",
    "created_by_id": None,
    "updated_by_id": None,
    "display_name": "refund-reply",
    "description": "Drafts a refund reply that follows the refund-policy Skill",
    "prompt": {
        "model": "anthropic/claude-3-5-haiku-20241022",
        "max_tokens": 400,
        "messages": [
            {"role": "system", "content": "{{skill.refund-policy}}\n{{ snippet.signature }}"},
            {"role": "user", "content": "Order {{order_id}}: draft a reply."},
        ],
        "version": "1",
    },
    "metadata": {"use_cases": ["Conversation"], "language": "English"},
}

ACCOUNT_REVIEW: dict[str, Any] = {
    "id": "c5e7a9b1-3d4f-4e8a-8c2d-5f7b9c1e3a46",
    "created": "2024-10-05T09:00:00.000Z",
    "updated": "2025-04-08T09:00:00.000Z",
    "key": "account-review",
    "description": "Reviews a customer's account before a call (jinja template with typed inputs)",
    "prompt_config": {
        "tools": [],
        "model": "gpt-4o",
        "model_type": "chat",
        "model_parameters": {"temperature": 0.2, "maxTokens": 500},
        "provider": "openai",
        "messages": [
            {
                "role": "system",
                "content": "You review customer accounts for {{ company }}. "
                "Answer in {{ language | default('English') }}.",
            },
            {
                "role": "user",
                "content": "Customer: {{ customer.name }} (tier {{ customer['tier'] }})"
                "{% if vip %}, a VIP{% endif %}.\n{% if open_tickets %}Open tickets: {{ open_tickets }}.\n{% endif %}"
                "Recent orders:\n{% for order in orders %}- {{ order.id }}: {{ order.total }}\n{% endfor %}",
            },
        ],
    },
    "version": "v1",
}

ACCOUNT_REVIEW_VARIABLES: list[dict[str, Any]] = [
    {"key": "company", "description": "Company the reviewer works for"},
    {"key": "customer", "description": "The customer: {name, tier}", "is_pii": True},
    {"key": "orders", "description": "Recent orders: a list of {id, total}"},
]

TEMPLATE_DEPLOYMENTS: tuple[dict[str, Any], ...] = (ONBOARDING_EMAIL, ORDER_DIGEST, REFUND_ASSISTANT, ACCOUNT_REVIEW)


def template_versions() -> dict[str, list[dict[str, Any]]]:
    return {
        "onboarding-email": [make_version(ONBOARDING_EMAIL, engine="jinja", variables=ONBOARDING_VARIABLES)],
        "order-digest": [make_version(ORDER_DIGEST, engine="mustache", variables=ORDER_DIGEST_VARIABLES)],
        "refund-assistant": [make_version(REFUND_ASSISTANT, variables=REFUND_VARIABLES)],
        "account-review": [make_version(ACCOUNT_REVIEW, engine="jinja", variables=ACCOUNT_REVIEW_VARIABLES)],
    }
