"""The sample workspace served by the sandbox: deployments, their versions and prompts in orq.ai's wire shapes.

``support-triage`` and ``release-notes-writer`` (deployments) and ``ticket-summariser`` and ``sql-explainer``
(prompts) are the ones shown in the API reference examples. Template features (jinja, mustache, Skills,
defaults) live in ``data_templates``, the non-chat deployments in ``data_media``, the thinking one in
``data_reasoning``, deployments with many drafts or several variants in ``data_versions``; agents in
``data_agents`` and knowledge bases in ``data_knowledge``.
"""

from __future__ import annotations

import copy
from typing import Any

from .data_agents import SAMPLE_AGENTS
from .data_knowledge import SAMPLE_CHUNKS, SAMPLE_KNOWLEDGE_BASES
from .data_media import MEDIA_DEPLOYMENTS
from .data_reasoning import REASONING_DEPLOYMENTS
from .data_templates import REFUND_REPLY_PROMPT, SAMPLE_REFERENCES, TEMPLATE_DEPLOYMENTS, template_versions
from .data_versions import VERSION_DEPLOYMENTS, version_samples
from .state import BodyCheck, EmulatorState, Workspace
from .versions import make_version

DOMAIN_ID = "5d3b7a9e-1c2f-4e6a-8b0d-9f1e2a3c4b5d"
AUTHOR_ID = "0f4e8a2c-6b1d-4c9e-a7f3-2d5b8e1c0a96"

_SUPPORT_TRIAGE: dict[str, Any] = {
    "id": "9b2f6c1e-4a7d-4c2b-9e51-7f0d3a6b8c21",
    "created": "2025-03-14T09:12:44.510Z",
    "updated": "2025-04-02T16:03:10.002Z",
    "key": "support-triage",
    "description": "Classifies an inbound support ticket and drafts a first reply",
    "prompt_config": {
        "tools": [
            {
                "type": "function",
                "display_name": "Look up order",
                "function": {
                    "name": "lookup_order",
                    "description": "Fetch an order by its public order number",
                    "strict": True,
                    "parameters": {
                        "type": "object",
                        "properties": {"order_number": {"type": "string", "description": "e.g. NL-20391"}},
                        "required": ["order_number"],
                        "additionalProperties": False,
                    },
                },
                "id": 1,
            }
        ],
        "model": "gpt-4o-mini",
        "model_type": "chat",
        "model_parameters": {"temperature": 0.2, "maxTokens": 600, "topP": 1},
        "provider": "openai",
        "messages": [
            {
                "role": "system",
                "content": "You are the support assistant for {{company_name}}. Answer in {{language}}. "
                "Be brief and polite.",
            },
            {"role": "user", "content": "Ticket from {{customer_name}}:\n{{ticket_body}}"},
        ],
    },
    "version": "v4",
}

_RELEASE_NOTES: dict[str, Any] = {
    "id": "1e0c7d55-2b9a-4f63-8d0e-a4c9e2f61b07",
    "created": "2025-02-27T13:40:05.117Z",
    "updated": "2025-02-27T13:58:31.664Z",
    "key": "release-notes-writer",
    "description": "Turns a list of merged PR titles into customer-facing release notes",
    "prompt_config": {
        "tools": [],
        "model": "claude-3-5-sonnet-20241022",
        "model_type": "chat",
        "model_parameters": {"temperature": 0.7, "maxTokens": 1500},
        "provider": "anthropic",
        "messages": [
            {
                "role": "system",
                "content": [
                    {"type": "text", "text": "Write release notes for version {{version}} in a friendly tone."}
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Merged pull requests:"},
                    {"type": "text", "text": "{{pr_titles}}"},
                ],
            },
        ],
    },
    "version": "v1",
}

_PRODUCT_COPYWRITER: dict[str, Any] = {
    "id": "60492987-515d-46d9-9fb0-cc9fea2af802",
    "created": "2025-04-01T08:30:12.204Z",
    "updated": "2025-04-05T14:22:47.930Z",
    "key": "product-copywriter",
    "description": "Writes a short product page description for the web shop",
    "prompt_config": {
        "tools": [],
        "model": "gemini-2.0-flash-001",
        "model_type": "chat",
        "model_parameters": {"temperature": 0.9, "maxTokens": 800, "topK": 40, "topP": 0.95},
        "provider": "google",
        "messages": [
            {
                "role": "system",
                "content": "You are a copywriter for an online bike shop. Write for {{ audience }}.",
            },
            {
                "role": "user",
                "content": "Describe {{ product_name }} in under 120 words. Key features: {{ features }}",
            },
        ],
    },
    "version": "v2",
}

_FAQ_ASSISTANT: dict[str, Any] = {
    "id": "72c368a8-cca5-4ed5-9613-2a382f540aeb",
    "created": "2025-01-20T11:05:33.871Z",
    "updated": "2025-03-02T09:41:18.255Z",
    "key": "faq-assistant",
    "description": "Answers customer questions about shipping, returns and warranty",
    "prompt_config": {
        "tools": [],
        "model": "mistral-small-latest",
        "model_type": "chat",
        "model_parameters": {"temperature": 0.3, "maxTokens": 400},
        "provider": "mistral",
        "messages": [
            {
                "role": "system",
                "content": "You are the FAQ assistant for Acme Bikes. Answer questions about shipping, returns "
                "and warranty in two or three sentences. If you do not know the answer, say so.",
            }
        ],
    },
    "version": "v3",
}

_SUBJECT_LINES: dict[str, Any] = {
    "id": "5da0c197-51c6-4d38-aba1-254625b95087",
    "created": "2024-12-09T15:47:02.338Z",
    "updated": "2024-12-09T15:47:02.338Z",
    "key": "subject-line-generator",
    "description": "",
    "prompt_config": {
        "tools": [],
        "model": "command",
        "model_type": "completion",
        "model_parameters": {"temperature": 0.8, "maxTokens": 60},
        "provider": "cohere",
        "messages": [
            {"role": "user", "content": "Write one email subject line (max 60 characters) about: {{topic}}"},
        ],
    },
    "version": "v1",
}

_TICKET_SUMMARISER_MESSAGES: list[dict[str, Any]] = [
    {
        "role": "system",
        "content": "Summarise the ticket for an agent. Use at most three bullets. Product line: {{product_line}}.",
    },
    {"role": "user", "content": "{{ticket_body}}"},
]

_TICKET_SUMMARISER: dict[str, Any] = {
    "_id": "01JPZ6W4D2F8H0K3M5Q7S9V1XB",
    "type": "prompt",
    "owner": "vendor",
    "domain_id": DOMAIN_ID,
    "created": "2025-03-30T08:15:22.040Z",
    "updated": "2025-04-01T12:44:09.871Z",
    "created_by_id": AUTHOR_ID,
    "updated_by_id": AUTHOR_ID,
    "display_name": "ticket-summariser",
    "description": "Summarises a support ticket in three bullet points",
    "prompt": {
        "model": "openai/gpt-4o-mini",
        "temperature": 0.3,
        "max_tokens": 300,
        "messages": copy.deepcopy(_TICKET_SUMMARISER_MESSAGES),
        "version": "3",
    },
    "prompt_config": {
        "stream": False,
        "model": "gpt-4o-mini",
        "model_type": "chat",
        "provider": "openai",
        "model_parameters": {"temperature": 0.3, "maxTokens": 300},
        "messages": copy.deepcopy(_TICKET_SUMMARISER_MESSAGES),
        "version": "3",
    },
    "metadata": {"use_cases": ["Summarization"], "language": "English"},
}

_SQL_EXPLAINER: dict[str, Any] = {
    "_id": "01JPY0A1B3C5D7E9F2G4H6J8KM",
    "type": "prompt",
    "owner": "vendor",
    "domain_id": DOMAIN_ID,
    "created": "2025-03-21T17:02:58.300Z",
    "updated": "2025-03-21T17:02:58.300Z",
    "created_by_id": None,
    "updated_by_id": None,
    "display_name": "sql-explainer",
    "description": None,
    "prompt": {
        "model": "anthropic/claude-3-5-sonnet-20241022",
        "max_tokens": 800,
        "messages": [
            {
                "role": "system",
                "content": "Explain the following SQL query to a non-technical reader in {{language}}.",
            }
        ],
        "version": "1",
    },
    "metadata": {"language": "English"},
}

_TONE_REWRITER: dict[str, Any] = {
    "_id": "01JQ3M7R2T9W4Y6B8D0F2H5K7N",
    "type": "prompt",
    "owner": "vendor",
    "domain_id": DOMAIN_ID,
    "created": "2025-04-02T10:11:45.615Z",
    "updated": "2025-04-04T07:52:30.118Z",
    "created_by_id": AUTHOR_ID,
    "updated_by_id": AUTHOR_ID,
    "display_name": "tone-rewriter",
    "description": "Rewrites a draft reply in the requested tone of voice",
    "prompt": {
        "model": "google/gemini-2.0-flash-001",
        "temperature": 0.6,
        "max_tokens": 500,
        "messages": [
            {"role": "system", "content": "Rewrite the user's text in a {{ tone }} tone. Keep the meaning."},
            {"role": "user", "content": [{"type": "text", "text": "{{ draft }}"}]},
        ],
        "version": "2",
    },
    "metadata": {"use_cases": ["Conversation", "Translation (sentences)"], "language": "English"},
}

_INVOICE_EXTRACTOR: dict[str, Any] = {
    "_id": "01JNX4C8E2G6J0M4Q8T2W6Z0B3",
    "type": "prompt",
    "owner": "vendor",
    "domain_id": DOMAIN_ID,
    "created": "2025-02-11T16:20:03.947Z",
    "updated": "2025-02-18T09:03:27.412Z",
    "created_by_id": AUTHOR_ID,
    "updated_by_id": None,
    "display_name": "invoice-extractor",
    "description": "Extracts supplier, date, total and VAT from an invoice as JSON",
    "prompt": {
        "model": "mistral/mistral-large-latest",
        "temperature": 0,
        "max_tokens": 400,
        "response_format": {"type": "json_object"},
        "messages": [
            {
                "role": "system",
                "content": "Extract supplier, invoice_date, total and vat from the invoice. Reply with JSON only.",
            },
            {"role": "user", "content": "{{invoice_text}}"},
        ],
        "version": "1",
    },
    "metadata": {"use_cases": ["Extraction"], "language": None},
}

SAMPLE_DEPLOYMENTS: tuple[dict[str, Any], ...] = (
    _SUPPORT_TRIAGE,
    _RELEASE_NOTES,
    _PRODUCT_COPYWRITER,
    _FAQ_ASSISTANT,
    _SUBJECT_LINES,
    *TEMPLATE_DEPLOYMENTS,
    *MEDIA_DEPLOYMENTS,
    *REASONING_DEPLOYMENTS,
    *VERSION_DEPLOYMENTS,
)
SAMPLE_PROMPTS: tuple[dict[str, Any], ...] = (
    _TICKET_SUMMARISER,
    _SQL_EXPLAINER,
    _TONE_REWRITER,
    _INVOICE_EXTRACTOR,
    REFUND_REPLY_PROMPT,
)
# Only chat and completion deployments can be streamed (SDK: `deployments.stream` docstring).
STREAMABLE_DEPLOYMENTS: tuple[dict[str, Any], ...] = tuple(
    d for d in SAMPLE_DEPLOYMENTS if d["prompt_config"]["model_type"] in ("chat", "completion")
)

_TRIAGE_VARIABLES: list[dict[str, Any]] = [
    {"key": "company_name", "description": "Your company's name, as the customer knows it"},
    {"key": "language", "description": "Language of the reply"},
    {"key": "customer_name", "description": "Who wrote the ticket", "is_pii": True},
    {"key": "ticket_body", "description": "The ticket text"},
]

# Variant routing: a request whose ``context`` names an attribute listed here must use one of the allowed values.
SAMPLE_VARIANT_RULES: dict[str, dict[str, list[str]]] = {
    "support-triage": {"environments": ["production", "staging"]},
}


def sample_workspace() -> Workspace:
    """A fresh, independent copy of the sample workspace (mutating it does not affect other copies)."""
    return Workspace(
        deployments=copy.deepcopy(list(SAMPLE_DEPLOYMENTS)),
        prompts=copy.deepcopy(list(SAMPLE_PROMPTS)),
        variant_rules=copy.deepcopy(SAMPLE_VARIANT_RULES),
        versions=sample_versions(),
        references=dict(SAMPLE_REFERENCES),
        agents=copy.deepcopy(list(SAMPLE_AGENTS)),
        knowledge_bases=copy.deepcopy(list(SAMPLE_KNOWLEDGE_BASES)),
        knowledge_chunks=copy.deepcopy(SAMPLE_CHUNKS),
    )


def sample_versions() -> dict[str, list[dict[str, Any]]]:
    """One live version per deployment; support-triage also has an older one and a newer draft."""
    versions = {d["key"]: [make_version(d)] for d in SAMPLE_DEPLOYMENTS}
    versions.update(template_versions())
    versions.update(version_samples())
    versions["support-triage"] = [
        make_version(_SUPPORT_TRIAGE, variables=_TRIAGE_VARIABLES),
        make_version(_SUPPORT_TRIAGE, status="published", version="v3", timestamp="2025-03-20T10:00:00.000Z"),
        make_version(
            _SUPPORT_TRIAGE,
            engine="jinja",
            status="draft",
            version="v5",
            timestamp="2025-04-10T08:00:00.000Z",
            variables=[{"key": "language", "value": "Dutch", "description": "Draft: not live"}],
        ),
    ]
    return versions


def sample_state(
    api_key: str = "sandbox", *, chunk_delay: float = 0.005, check_body: BodyCheck | None = None
) -> EmulatorState:
    """A state serving the sample workspace for ``api_key``."""
    return EmulatorState({api_key: sample_workspace()}, chunk_delay=chunk_delay, check_body=check_body)
