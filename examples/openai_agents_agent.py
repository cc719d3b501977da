"""The OpenAI Agents SDK drives orq-mcp over stdio.

    pip install -e . --group frameworks && python -m examples.openai_agents_agent

Runs offline: the server uses its built-in orq emulator (--sandbox), the agent's model is scripted and tracing
(which would upload to OpenAI) is off. For real use, start `orq-mcp` (or `uvx orq-mcp`) with ORQ_API_KEY in
`params["env"]` and give the Agent a real model. The SDK's MCP client asks for no progress notifications, so
the generation arrives whole, as the tool result.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from agents import Agent, Runner, set_tracing_disabled
from agents.items import ModelResponse
from agents.mcp import MCPServerStdio
from agents.models.interface import Model
from agents.usage import Usage
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

SERVER = [sys.executable, "-m", "orq_mcp", "--sandbox"]  # or ["uvx", "orq-mcp"] with ORQ_API_KEY set
QUESTION = {"key": "faq-assistant", "messages": [{"role": "user", "content": "Do you ship to Norway?"}]}


def orq_server(command: list[str] = SERVER, env: dict[str, str] | None = None) -> MCPServerStdio:
    """orq-mcp as an MCP server for OpenAI agents (use it with `async with`)."""
    params: Any = {"command": command[0], "args": command[1:], **({"env": env} if env else {})}
    return MCPServerStdio(params=params, name="orq", client_session_timeout_seconds=60)


class ScriptedModel(Model):
    """Stands in for an LLM: asks invoke_deployment the question, then answers with what the deployment said."""

    def __init__(self) -> None:
        self.tools_seen: list[str] = []
        self.tool_output: Any = None

    async def get_response(self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any) -> ModelResponse:
        tools = args[2] if len(args) > 2 else kwargs["tools"]
        self.tools_seen = [tool.name for tool in tools]
        outputs = [item for item in input if isinstance(item, dict) and item.get("type") == "function_call_output"]
        if not outputs:
            call = ResponseFunctionToolCall(
                type="function_call", call_id="call-1", name="invoke_deployment", arguments=json.dumps(QUESTION)
            )
            return ModelResponse(output=[call], usage=Usage(), response_id=None)
        self.tool_output = outputs[-1]["output"]
        answer = ResponseOutputText(type="output_text", text=f"The FAQ assistant says: {self.text()}", annotations=[])
        message = ResponseOutputMessage(
            id="m-1", type="message", role="assistant", status="completed", content=[answer]
        )
        return ModelResponse(output=[message], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("this scripted model only answers whole")

    def text(self) -> str:
        """The tool result's text (the SDK passes MCP content as a list of input_text parts)."""
        parts = self.tool_output if isinstance(self.tool_output, list) else [{"text": str(self.tool_output)}]
        return "".join(part.get("text", "") for part in parts)


async def main() -> None:
    set_tracing_disabled(True)
    async with orq_server() as server:
        agent = Agent(name="orq", instructions="Use the orq tools.", model=ScriptedModel(), mcp_servers=[server])
        result = await Runner.run(agent, "Ask the FAQ assistant whether we ship to Norway.")
    print(result.final_output)


if __name__ == "__main__":
    asyncio.run(main())
