"""The key leaks an adversarial review found, each reproduced against the real server process.

1. An orq error body with the key JSON-escaped (`\\u0073\\u006b...`): raw-text scrubbing cannot see it,
   and it came back through `tools/call` of an unknown name with `--expose` set, and `orq-mcp check`.
2. The key written into workspace data (a deployment description, a prompt_config, a prompt's text),
   which anyone with workspace access can do: it came back through `tools/list`, `resources/list`,
   `resources/read`, `prompts/list` and `prompts/get`.
3. A masked echo (`sk-...-canary-7f3b9c2e****`): every run of 12 or more key characters counts as the key,
   in results, progress, `-v` logs and `check`.
4. A variable's description quoting the key (issue 15): a handshake-era client was sent it verbatim in the
   `elicitation/create` request that asks for the variable, over HTTP and stdio; a request the server sends is
   as much an answer as a result, and passes the same exit.
"""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp_types import ElicitRequestFormParams, ElicitRequestParams, ElicitResult

from orq_mcp.sandbox import EmulatorState, EmulatorThread, Fault, sample_workspace
from tests.conftest import API_KEY, fresh_state
from tests.e2e.test_secrets import assert_clean
from tests.processes import MODULE, HttpServer, read_log, server_env

ESCAPED_KEY = "".join(f"\\u{ord(c):04x}" for c in API_KEY)
MASKED_KEY = API_KEY[:-6] + "******"  # 24 characters of the key, then a mask
FAQ_MESSAGE = {"role": "user", "content": f"My key is {MASKED_KEY}, is that right?"}


@pytest.fixture
def poisoned_emulator() -> Iterator[EmulatorThread]:
    """A workspace whose data quotes the key: a description, a prompt_config message, a prompt's text."""
    workspace = sample_workspace()
    faq = workspace.deployment("faq-assistant")
    assert faq is not None
    faq["description"] = f"Answers questions. Internal note: key {API_KEY}"
    faq["prompt_config"]["messages"][0]["content"] += f" Never reveal {API_KEY}."
    prompt = copy.deepcopy(workspace.prompts[0])
    prompt["_id"], prompt["display_name"] = "01J9ZZZZZZZZZZZZZZZZZZZZZZ", "leaky-prompt"
    prompt["description"] = f"uses {MASKED_KEY}"
    prompt["prompt"]["messages"] = [{"role": "user", "content": f"Say {API_KEY} to {{{{name}}}}"}]
    named = copy.deepcopy(prompt)  # a name is workspace data too (`check` prints names)
    named["_id"], named["display_name"] = "01J9ZZZZZZZZZZZZZZZZZZZZZY", f"leaky-{API_KEY}"
    workspace.prompts[:0] = [prompt, named]
    live_triage = workspace.versions["support-triage"][0]  # its variables are what a form asks for
    for variable in live_triage["variables"]:
        if variable["key"] == "customer_name":
            variable["description"] = f"Who wrote the ticket (staff: our key is {API_KEY})"
    with EmulatorThread(EmulatorState(workspaces={API_KEY: workspace}, chunk_delay=0.001)) as thread:
        yield thread


def stdio_params(base_url: str, *args: str) -> StdioServerParameters:
    env = server_env(base_url, ORQ_MAX_RETRIES="0", ORQ_MCP_CACHE_TTL="0")
    return StdioServerParameters(command=MODULE[0], args=[*MODULE[1:], "-v", *args], env=env)


def escaped_key_body() -> str:
    """A JSON error body whose key only appears once the JSON escapes are undone."""
    return '{"message": "Invalid API key \\u0042earer ' + ESCAPED_KEY + '", "code": 401}'


async def test_a_json_escaped_key_in_an_error_body_is_scrubbed(emulator: EmulatorThread, tmp_path: Path) -> None:
    state = emulator.state
    state.reset()
    state.add_fault(Fault("list_deployments", "status", times=-1, status=401, body=escaped_key_body()))
    errlog = tmp_path / "stderr.log"
    outputs: list[str] = []
    try:
        with errlog.open("w") as err:
            async with Client(stdio_client(stdio_params(emulator.base_url, "--expose", "all"), errlog=err)) as client:
                outputs.append((await client.list_tools()).model_dump_json())
                result = await client.call_tool("no_such_tool", {})
                outputs.append(result.model_dump_json())
                result = await client.call_tool("list_deployments", {})
                assert result.is_error
                outputs.append(result.model_dump_json())
    finally:
        state.reset()
    assert any("[redacted]" in text for text in outputs), "the escaped key never reached a result"
    for text in outputs:
        assert_clean("result", text)
    assert_clean("stderr", read_log(errlog))


def run_check(base_url: str, key: str = API_KEY) -> subprocess.CompletedProcess[str]:
    env = server_env(base_url, key=key, ORQ_MAX_RETRIES="0")
    return subprocess.run([*MODULE, "check", "-v"], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("body", [escaped_key_body(), {"message": f"key {MASKED_KEY} is not valid"}])
def test_check_never_prints_the_key(emulator: EmulatorThread, body: Any) -> None:
    with fresh_state(emulator.state) as state:
        state.add_fault(Fault("list_deployments", "status", times=-1, status=401, body=body))
        done = run_check(emulator.base_url)
    assert done.returncode == 1
    assert "rejected the API key" in done.stdout
    assert "[redacted]" in done.stdout
    assert_clean("check stdout", done.stdout)
    assert_clean("check stderr", done.stderr)


def test_check_scrubs_workspace_names(poisoned_emulator: EmulatorThread) -> None:
    done = run_check(poisoned_emulator.base_url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "leaky-[redacted]" in done.stdout
    assert_clean("check stdout", done.stdout)


async def test_workspace_data_quoting_the_key_is_scrubbed_everywhere(
    poisoned_emulator: EmulatorThread, tmp_path: Path
) -> None:
    errlog = tmp_path / "stderr.log"
    seen: list[tuple[str, str]] = []
    with errlog.open("w") as err:
        params = stdio_params(poisoned_emulator.base_url, "--expose", "all")
        async with Client(stdio_client(params, errlog=err)) as client:
            seen.append(("tools/list", (await client.list_tools()).model_dump_json()))
            seen.append(("resources/list", (await client.list_resources()).model_dump_json()))
            uri = "orq://deployments/faq-assistant/prompt_config"
            seen.append(("resources/read", (await client.read_resource(uri)).model_dump_json()))
            seen.append(("prompts/list", (await client.list_prompts()).model_dump_json()))
            got = await client.get_prompt("leaky-prompt", {"name": "Priya"})
            seen.append(("prompts/get", got.model_dump_json()))
            result = await client.call_tool("list_deployments", {})
            seen.append(("list_deployments", result.model_dump_json()))
    for what, text in seen:
        assert "[redacted]" in text, f"{what} did not carry the planted key at all"
        assert_clean(what, text)
    assert_clean("stderr", read_log(errlog))


async def test_a_masked_echo_leaks_no_run_of_the_key(emulator: EmulatorThread, tmp_path: Path) -> None:
    state = emulator.state
    state.reset()
    state.add_fault(Fault("get_config", "status", status=400, body={"message": f"bad key {MASKED_KEY}"}))
    errlog = tmp_path / "stderr.log"
    outputs: list[str] = []
    progress: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    try:
        with errlog.open("w") as err:
            async with Client(stdio_client(stdio_params(emulator.base_url), errlog=err)) as client:
                failed = await client.call_tool("get_deployment_config", {"key": "faq-assistant"})
                assert failed.is_error
                outputs.append(failed.model_dump_json())
                # The emulated model quotes the user's message back: the masked key is streamed as progress.
                arguments = {"key": "faq-assistant", "messages": [FAQ_MESSAGE]}
                reply = await client.call_tool("invoke_deployment", arguments, progress_callback=on_progress)
                assert not reply.is_error
                outputs.append(reply.model_dump_json())
    finally:
        state.reset()
    assert progress
    assert "[redacted]" in "".join(progress)
    for text in [*outputs, "".join(progress)]:
        assert "[redacted]" in text
        assert_clean("output", text)
    stderr = read_log(errlog)
    assert " DEBUG " in stderr
    assert_clean("stderr", stderr)


class RecordingForm:
    """Answers every form, keeping what it was asked as the client received it."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __call__(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        assert isinstance(params, ElicitRequestFormParams)
        self.asked.append(params.model_dump_json())
        return ElicitResult(action="accept", content=dict.fromkeys(params.requested_schema["properties"], "Priya"))


@pytest.mark.parametrize(
    ("transport", "mode"),
    [("stdio", "legacy"), ("stdio", "auto"), ("http", "legacy"), ("http", "auto"), ("sse", "legacy")],
    ids=["stdio-handshake-era", "stdio-2026-07-28", "http-handshake-era", "http-2026-07-28", "legacy-sse"],
)
async def test_a_form_asking_for_a_variable_never_quotes_the_key(
    poisoned_emulator: EmulatorThread, tmp_path: Path, transport: str, mode: str
) -> None:
    form = RecordingForm()
    inputs = {"company_name": "Acme Bikes", "language": "English", "ticket_body": "Where is my bike?"}
    if transport != "stdio":
        env = {"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": poisoned_emulator.base_url, "ORQ_MAX_RETRIES": "0"}
        server = HttpServer.start(transport, env, tmp_path, args=["-v"]).ready()
        target: Any = server.url if transport == "http" else sse_client(server.url)
    else:
        errlog = (tmp_path / "stderr.log").open("w")
        target = stdio_client(stdio_params(poisoned_emulator.base_url), errlog=errlog)
    try:
        async with Client(target, mode=mode, elicitation_callback=form) as client:
            result = await client.call_tool("invoke_deployment", {"key": "support-triage", "inputs": inputs})
            assert not result.is_error, result
            assert_clean("result", result.model_dump_json())
    finally:
        if transport != "stdio":
            server.stop()
        else:
            errlog.close()
    (asked,) = form.asked
    assert "[redacted]" in asked  # the description was there, scrubbed
    assert_clean(f"the form sent over {transport}", asked)
    assert_clean("stderr", read_log(tmp_path / "stderr.log"))
