"""A sample deployment that thinks: Anthropic extended thinking with a tool, the case whose reasoning must
round-trip (the emulator signs it and sends a redacted block; see ``thinking``)."""

from __future__ import annotations

from typing import Any

ORDER_AGENT: dict[str, Any] = {
    "id": "a7c9e1f3-5b7d-4f9a-8c2e-4d6f8b0a2c35",
    "created": "2024-09-20T09:00:00.000Z",
    "updated": "2025-03-20T09:00:00.000Z",
    "key": "order-agent",
    "description": "Answers order questions, thinking first and looking orders up with a tool",
    "prompt_config": {
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "lookup_order",
                    "description": "Fetch an order by its public order number",
                    "parameters": {
                        "type": "object",
                        "properties": {"order_number": {"type": "string"}},
                        "required": ["order_number"],
                    },
                },
            }
        ],
        "model": "claude-sonnet-4-20250514",
        "model_type": "chat",
        # Anthropic: thinking needs a budget of at least 1,024 tokens, below maxTokens (SDK model_parameters docs).
        "model_parameters": {"maxTokens": 4096, "budgetTokens": 2048},
        "provider": "anthropic",
        "messages": [
            {"role": "system", "content": "You help Acme Bikes customers with their orders. Look orders up."},
            {"role": "user", "content": "{{question}}"},
        ],
    },
    "version": "v1",
}

REASONING_DEPLOYMENTS: tuple[dict[str, Any], ...] = (ORDER_AGENT,)
