"""What an agent run may send orq (`POST /v2/agents/{agent_key}/responses`), checked before orq is called.

Mirrors the SDK's `AgentResponseRequest` (orq-ai-sdk 4.17.13, `agentresponserequest.py`): an A2A `message`
(role `user`, parts of kind `text`), `task_id` to continue a task, `variables` for the agent's templates,
`memory.entity_id`, `thread`, `identity`, `metadata`, and the `stream` flag. Stricter than the SDK: unknown
fields are refused, and ids may not be empty. The deprecated `contact` (use `identity`) and the studio-only
`conversation` are not offered; `background` is not either: a background run answers before the agent has
said anything, and `get_agent_task` covers reading a task later.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from orq_mcp.orq.requests import Identity, Thread, _Strict


class AgentRequest(_Strict):
    """One turn of an agent conversation."""

    message: str = Field(min_length=1, description="What the user says to the agent.")
    task_id: str | None = Field(None, min_length=1, description="Continue this task (a previous run's task_id).")
    variables: dict[str, Any] | None = Field(None, description="Values for the agent's template variables.")
    memory_entity_id: str | None = Field(
        None, min_length=1, description="Links the agent's memory stores to this user, session or conversation."
    )
    thread: Thread | None = None
    identity: Identity | None = None
    metadata: dict[str, Any] | None = Field(None, description="Stored on the run's trace.")

    def to_orq(self, *, stream: bool = True) -> dict[str, Any]:  # type: ignore[override]
        """The JSON body orq expects: the message as an A2A user message with one text part."""
        body: dict[str, Any] = {"message": {"role": "user", "parts": [{"kind": "text", "text": self.message}]}}
        for name in ("task_id", "variables", "metadata"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        if self.memory_entity_id is not None:
            body["memory"] = {"entity_id": self.memory_entity_id}
        for name in ("thread", "identity"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value.to_orq()
        body["stream"] = stream
        return body
