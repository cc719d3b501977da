"""Sample agents in the shape of the SDK's `ListAgentsData` (orq-ai-sdk 4.17.13, `listagentsop.py`).

``order-assistant`` has a tool (``lookup_order``, answered by the emulator from ``SAMPLE_ORDERS``) and a
variable (``company_name``); ``tagline-writer`` has neither; ``help-desk`` has a variable and the sample
knowledge base, which it searches itself (a tool call of kind ``knowledge_base``). `variables` maps each
variable in the instructions to its default, empty when it has none [INFER: the SDK types it only as an
object, "Extracted variables from agent instructions"].
"""

from __future__ import annotations

from typing import Any

from .data_knowledge import HELP_CENTER_ID

PROJECT_ID = "01JQ7W3M5X9B2C4D6E8F0G1H2J"  # `RetrieveAgentRequestResponseBody` requires it; the list leaves it out


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "parameters": {"temperature": 0.3}}


def _settings(tools: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "max_iterations": 10,
        "max_execution_time": 300,
        "max_cost": 0.0,
        "tool_approval_required": "respect_tool",
        "tools": tools,
        "evaluators": [],
        "guardrails": [],
    }


_ORDER_ASSISTANT: dict[str, Any] = {
    "_id": "01JQ7W4A1B2C3D4E5F6G7H8J9K",
    "key": "order-assistant",
    "display_name": "Order assistant",
    "status": "live",
    "path": "Default Project/agents",
    "role": "Order support agent",
    "description": "Looks up a customer's order and says where it is",
    "instructions": "You help customers of {{company_name}} with their orders. Look an order up before you answer.",
    "model": _model("openai/gpt-4o-mini"),
    "version": "1.2.0",
    "created": "2025-05-02T10:00:00.000Z",
    "updated": "2025-05-20T08:30:00.000Z",
    "variables": {"company_name": ""},
    "engine": "text",
    "type": "internal",
    "source": "internal",
    "settings": _settings(
        [
            {
                "id": "01JQ7W4B9V8T7S6R5Q4P3N2M1L",
                "action_type": "function",
                "key": "lookup_order",
                "display_name": "Look up order",
                "description": "Fetch an order by its public order number, e.g. NL-20391",
                "requires_approval": False,
            }
        ]
    ),
}

_TAGLINE_WRITER: dict[str, Any] = {
    "_id": "01JQ7W5C2D3E4F5G6H7J8K9M0N",
    "key": "tagline-writer",
    "display_name": "Tagline writer",
    "status": "live",
    "path": "Default Project/agents",
    "role": "Copywriter",
    "description": "Writes a one-line tagline for whatever you describe",
    "instructions": "Write one short, upbeat tagline for what the user describes.",
    "model": _model("anthropic/claude-3-5-haiku-latest"),
    "version": "0.3.0",
    "created": "2025-04-11T14:00:00.000Z",
    "updated": "2025-04-11T14:00:00.000Z",
    "variables": {},
    "engine": "text",
    "type": "internal",
    "source": "internal",
    "settings": _settings([]),
}

_HELP_DESK: dict[str, Any] = {
    "_id": "01JQ7W6D3E4F5G6H7J8K9M0N1P",
    "key": "help-desk",
    "display_name": "Help desk",
    "status": "live",
    "path": "Default Project/agents",
    "role": "Help-centre agent",
    "description": "Answers questions from the Acme help centre, citing the article it used",
    "instructions": "Answer in {{language}} from the help centre only, and say which article you used.",
    "model": _model("openai/gpt-4o"),
    "version": "2.0.1",
    "created": "2025-05-28T09:15:00.000Z",
    "updated": "2025-06-01T11:45:00.000Z",
    "variables": {"language": "English"},
    "knowledge_bases": [{"knowledge_id": HELP_CENTER_ID}],
    "engine": "text",
    "type": "internal",
    "source": "internal",
    "settings": _settings(
        [
            {
                "id": "01JQ7W6E4F5G6H7J8K9M0N1P2Q",
                "action_type": "retrieve_knowledge_bases",
                "display_name": "Search the help centre",
                "requires_approval": False,
            }
        ]
    ),
}

SAMPLE_AGENTS: tuple[dict[str, Any], ...] = (_ORDER_ASSISTANT, _TAGLINE_WRITER, _HELP_DESK)

# What ``lookup_order`` finds (the emulator answers the tool itself, as orq runs an agent's tools).
SAMPLE_ORDERS: dict[str, dict[str, Any]] = {
    "NL-20391": {"order_number": "NL-20391", "status": "shipped", "carrier": "PostNL", "eta": "2025-06-12"},
    "NL-20417": {"order_number": "NL-20417", "status": "processing", "carrier": None, "eta": "2025-06-16"},
    "BE-11802": {"order_number": "BE-11802", "status": "delivered", "carrier": "bpost", "eta": "2025-06-03"},
}
