"""pydantic-ai drives orq-mcp over stdio, with the generation's progress streamed to a handler.

    pip install -e . --group frameworks && python -m examples.pydantic_ai_agent

Runs offline: the server uses its built-in orq emulator (--sandbox) and the agent's model is scripted. For real
use, start `orq-mcp` (or `uvx orq-mcp`) with ORQ_API_KEY in `env` and pass a real model, e.g.
`Agent("anthropic:claude-sonnet-4-5", toolsets=[orq_toolset(on_progress)])`.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastmcp.client.transports import StdioTransport
from pydantic_ai import Agent
from pydantic_ai.mcp import MCPToolset
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

SERVER = [sys.executable, "-m", "orq_mcp", "--sandbox"]  # or ["uvx", "orq-mcp"] with ORQ_API_KEY set
QUESTION = {"key": "faq-assistant", "messages": [{"role": "user", "content": "Do you ship to Norway?"}]}

ProgressHandler = Callable[[float, float | None, str | None], Awaitable[None]]


def orq_toolset(
    on_progress: ProgressHandler | None = None, command: list[str] = SERVER, env: dict[str, str] | None = None
) -> MCPToolset:
    """orq-mcp's tools for a pydantic-ai agent; `on_progress` receives the generation as it streams."""
    return MCPToolset(StdioTransport(command[0], command[1:], env=env), progress_handler=on_progress)


@dataclass
class ScriptedModel:
    """Stands in for an LLM: asks invoke_deployment the question, then answers with what the deployment said."""

    tools_seen: list[str] = field(default_factory=list)
    tool_result: object = None

    def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.tools_seen = [tool.name for tool in info.function_tools]
        returns = [part for message in messages for part in message.parts if isinstance(part, ToolReturnPart)]
        if not returns:
            return ModelResponse(parts=[ToolCallPart("invoke_deployment", QUESTION)])
        self.tool_result = returns[-1].content
        text = self.tool_result.get("text", "") if isinstance(self.tool_result, dict) else str(self.tool_result)
        return ModelResponse(parts=[TextPart(f"The FAQ assistant says: {text}")])


async def main() -> None:
    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        print(message or "", end="", flush=True)  # the answer, as it is written

    agent = Agent(FunctionModel(ScriptedModel()), toolsets=[orq_toolset(on_progress)])
    result = await agent.run("Ask the FAQ assistant whether we ship to Norway.")
    print(f"\n\n{result.output}")


if __name__ == "__main__":
    asyncio.run(main())
