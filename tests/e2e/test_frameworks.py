"""Agent frameworks drive orq-mcp through their own MCP clients: pydantic-ai and the OpenAI Agents SDK.

Each runs the example in examples/ with its scripted model (no network), against a real `python -m orq_mcp`
over stdio whose orq is the test emulator, so the test sees what reached orq. They need the `frameworks` extra;
without it they skip, unless CI_REQUIRE_FRAMEWORKS is set (.ci/run sets it), where a missing group fails.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType

import pytest

from orq_mcp.sandbox import EmulatorState, EmulatorThread
from tests.conftest import API_KEY
from tests.processes import server_env

TOOLS = {"list_deployments", "get_deployment_config", "invoke_deployment", "list_prompts"}
SERVER = [sys.executable, "-m", "orq_mcp"]


def example(name: str, framework: str) -> ModuleType:
    try:
        importlib.import_module(framework)
    except ImportError as exc:
        if os.environ.get("CI_REQUIRE_FRAMEWORKS"):
            pytest.fail(f"{framework} is not installed ({exc}); CI installs it: pip install -e . --group frameworks")
        pytest.skip(f"{framework} is not installed: pip install -e . --group frameworks")
    return importlib.import_module(f"examples.{name}")


def the_question_reached_orq(emulator_state: EmulatorState, question: dict[str, object]) -> None:
    (streamed,) = emulator_state.requests_for("stream")
    assert streamed.body["key"] == question["key"]
    assert streamed.body["messages"] == question["messages"]
    assert streamed.api_key == API_KEY


async def test_pydantic_ai_agent_calls_orq_and_sees_the_stream(
    emulator: EmulatorThread, emulator_state: EmulatorState
) -> None:
    pai = example("pydantic_ai_agent", "pydantic_ai")
    from pydantic_ai import Agent
    from pydantic_ai.models.function import FunctionModel

    progress: list[str] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    model = pai.ScriptedModel()
    toolset = pai.orq_toolset(on_progress, command=SERVER, env=server_env(emulator.base_url))
    result = await Agent(FunctionModel(model), toolsets=[toolset]).run("Do we ship to Norway?")

    assert set(model.tools_seen) >= TOOLS  # discovered through the framework's MCP client
    the_question_reached_orq(emulator_state, pai.QUESTION)
    text = model.tool_result["text"]
    assert "Do you ship to Norway?" in text
    assert result.output == f"The FAQ assistant says: {text}"
    assert len(progress) > 1  # streamed in pieces, and the pieces are the answer
    assert "".join(progress) == text


async def test_openai_agents_sdk_calls_orq(emulator: EmulatorThread, emulator_state: EmulatorState) -> None:
    oa = example("openai_agents_agent", "agents")
    from agents import Agent, Runner, set_tracing_disabled

    set_tracing_disabled(True)  # no upload of traces to OpenAI
    model = oa.ScriptedModel()
    async with oa.orq_server(command=SERVER, env=server_env(emulator.base_url)) as server:
        agent = Agent(name="orq", instructions="Use the orq tools.", model=model, mcp_servers=[server])
        result = await Runner.run(agent, "Do we ship to Norway?")

    assert set(model.tools_seen) >= TOOLS
    the_question_reached_orq(emulator_state, oa.QUESTION)
    assert "Do you ship to Norway?" in model.text()
    assert result.final_output == f"The FAQ assistant says: {model.text()}"
