"""`orq-mcp check --live`: record a transcript, and replay recorded transcripts through the client.

The last test probes the real orq API: it runs only with ORQ_API_KEY and ORQ_LIVE=1 set, and costs
nothing (every invocation carries mock_response).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import httpx2
import pytest

from orq_mcp.cli.probe import MOCK_RESPONSE, run_probe
from orq_mcp.cli.transcript import Exchange, Transcript, analyse
from orq_mcp.orq.client import OrqClient, Timeouts, create_http_client
from orq_mcp.orq.errors import OrqError
from orq_mcp.sandbox import EmulatorState, EmulatorThread, Fault
from orq_mcp.sandbox.data import SAMPLE_DEPLOYMENTS
from orq_mcp.sandbox.replay import replay_app
from orq_mcp.sandbox.serve import serve_app
from tests.conftest import API_KEY, FAST_RETRY
from tests.paths import DATA
from tests.processes import server_env

TRANSCRIPTS = sorted((DATA / "transcripts").glob("*.json"))
LIVE = bool(os.environ.get("ORQ_API_KEY")) and os.environ.get("ORQ_LIVE") == "1"


def check_live(env: dict[str, str], record: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "orq_mcp", "check", "--live", "--record", str(record)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)


async def replay_through_the_client(path: Path) -> None:
    """What the client makes of each recorded answer: the mocked text, exactly once."""
    transcript = Transcript.load(path)
    app = replay_app(asdict(transcript))
    async with serve_app(app) as base_url, create_http_client(base_url) as http:
        orq = OrqClient(http, "replay-key-0123456789", timeouts=Timeouts(read=10, stream=10), retry=FAST_RETRY)
        streamed = transcript.exchange("stream")
        if streamed is not None and streamed.status == 200:
            completion = await orq.invoke(streamed.request or {})
            assert completion.text == transcript.mock_response, f"{path.name}: the streamed text"
        invoked = transcript.exchange("invoke")
        if invoked is not None and invoked.status == 200:
            result = await orq.invoke_unstreamed(invoked.request or {})
            assert result.completion.text == transcript.mock_response
        config = transcript.exchange("get_config")
        if config is not None and config.status == 200:
            rendered = await orq.get_config(config.request or {})
            assert rendered.messages
        refused = transcript.exchange("stream_unknown_key")
        if refused is not None and refused.status >= 400:
            with pytest.raises(OrqError):
                await orq.invoke(refused.request or {})
        await replay_runtime(orq, transcript)


async def replay_runtime(orq: OrqClient, transcript: Transcript) -> None:
    """The agents and knowledge reads: every recorded answer parses into the client's models."""
    listed = transcript.exchange("list_agents")
    if listed is not None and listed.status == 200:
        agents = await orq.list_agents(limit=10)
        assert agents.data, f"{transcript.deployment}: the recorded agents list"
        agent = transcript.exchange("get_agent")
        if agent is not None and agent.status == 200:
            assert (await orq.get_agent(agents.data[0].key)).key == agents.data[0].key
    knowledge = transcript.exchange("list_knowledge")
    if knowledge is not None and knowledge.status == 200:
        await orq.list_knowledge_bases(limit=10)
    for name, read in (("get_agent_unknown", orq.get_agent), ("trace_unknown", orq.get_trace)):
        unknown = transcript.exchange(name)
        if unknown is not None and unknown.status >= 400:
            with pytest.raises(OrqError):
                await read(unknown.path.rsplit("/", 1)[-1])


def test_check_live_records_the_open_questions(
    emulator: EmulatorThread, emulator_state: EmulatorState, tmp_path: Path
) -> None:
    record = tmp_path / "transcript.json"
    done = check_live(server_env(emulator.base_url), record)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'stream_content: "delta"' in done.stdout
    findings = Transcript.load(record).findings
    assert findings["final_chunk"] == "empty"
    assert findings["get_config_renders_inputs"] is True
    assert findings["stream_non_chat"]["status"] == 400
    assert findings["stream_unknown_key"]["status"] == 404
    assert findings["status_204"] == "none seen"
    # Issue 16's open questions: error bodies, /invoke's answer to "stream": true, the SDK's assistant parts, and
    # how each non-chat type answers a mock.
    assert findings["invoke_stream_flag"]["content_type"] == "application/json"
    assert findings["error_body_keys"] == {
        "stream_unknown_key": ["message"],
        "invoke_unknown_key": ["message"],
        "invoke_bad_body": ["message"],
        "stream_non_chat": ["message"],
        "agent_task_unknown": ["message"],
        "get_agent_unknown": ["message"],
        "trace_unknown": ["message"],
    }
    # Issue 19: agents and knowledge bases, read for free (no agent run, no search, no feedback).
    assert findings["list_agents"]["status"] == findings["list_knowledge"]["status"] == 200
    assert findings["get_agent"]["status"] == 200
    assert findings["get_agent_unknown"]["status"] == findings["trace_unknown"]["status"] == 404
    assert findings["agent_variables_shape"] == {"language": "str"}  # help-desk, the newest sample agent
    assert findings["agent_tool_fields"] == ["action_type", "display_name", "id", "requires_approval"]
    runtime_routes = ("agent_response", "knowledge_search", "feedback")
    assert not [r for route in runtime_routes for r in emulator_state.requests_for(route)]
    assert findings["get_config_accepts_assistant_parts"] is True
    non_chat = {d["prompt_config"]["model_type"] for d in SAMPLE_DEPLOYMENTS} - {"chat", "completion"}
    assert set(findings["non_chat_mocked_answers"]) == non_chat
    assert (
        findings["non_chat_mocked_answers"]["tts"]
        == "object completion; messages ['content']; provider_response NoneType"
    )
    assert findings["reasoning_signature_and_redacted_reasoning"].startswith("not observable")
    # No model cost: every invocation asked for a mock answer.
    invocations = emulator_state.requests_for("stream") + emulator_state.requests_for("invoke")
    assert len(invocations) == 5 + 2 + len(non_chat)
    assert all(r.body["invoke_options"]["mock_response"] == MOCK_RESPONSE for r in invocations)
    for text in (record.read_text(), done.stdout, done.stderr):
        assert API_KEY not in text


def test_check_live_without_a_usable_key_fails_cleanly(emulator: EmulatorThread, tmp_path: Path) -> None:
    done = check_live(server_env(emulator.base_url, key="sk-wrong-key-0123456789"), tmp_path / "t")
    assert done.returncode == 1
    assert "HTTP 401" in done.stdout
    assert "sk-wrong-key-0123456789" not in done.stdout + done.stderr + (tmp_path / "t").read_text()


async def test_a_fresh_emulator_transcript_replays_through_the_client(emulator: EmulatorThread, tmp_path: Path) -> None:
    record = tmp_path / "transcript.json"
    assert check_live(server_env(emulator.base_url), record).returncode == 0
    await replay_through_the_client(record)


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda p: p.name)
async def test_recorded_transcripts_replay_through_the_client(path: Path) -> None:
    await replay_through_the_client(path)


@pytest.mark.skipif(not LIVE, reason="probes the real orq API: set ORQ_API_KEY and ORQ_LIVE=1")
async def test_live_orq_answers_as_the_client_expects(tmp_path: Path) -> None:
    record = Path(os.environ.get("ORQ_LIVE_RECORD", tmp_path / "orq-live.json"))
    done = check_live(dict(os.environ), record)
    assert done.returncode == 0, done.stdout + done.stderr
    await replay_through_the_client(record)


def sse(*chunks: dict[str, object], done: bool = True) -> str:
    events = [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks]
    return "".join(events) + ("data: [DONE]\n\n" if done else "")


def chunk(content: str | None, *, final: bool = False) -> dict[str, object]:
    message = {"type": "content", "role": "assistant", "content": content}
    return {"is_final": final, "choices": [{"index": 0, "message": message}]}


def findings_for(body: str, mock: str = "6666") -> dict[str, object]:
    stream = Exchange("stream", "POST", "/v2/deployments/stream", {}, 200, "text/event-stream", body)
    return analyse(Transcript("0", "now", "k", mock, [stream]))


@pytest.mark.parametrize(
    ("pieces", "final", "mode", "final_kind"),
    [
        (["6", "66", "6"], "", "delta", "empty"),
        (["6", "66", "666", "6666"], None, "cumulative", "empty"),
        (["66", "66"], "6666", "delta", "repeats the whole text"),
        (["6666"], "", "undecided (the text came in one piece)", "empty"),
        (["6", "7"], "!", "unclear", "carries new text"),
    ],
)
def test_the_analysis_tells_the_stream_modes_apart(
    pieces: list[str], final: str | None, mode: str, final_kind: str
) -> None:
    found = findings_for(sse(*(chunk(p) for p in pieces), chunk(final, final=True)))
    assert (found["stream_content"], found["final_chunk"]) == (mode, final_kind)


def test_the_analysis_notices_error_events() -> None:
    body = sse(chunk("66"), done=False) + 'event: error\ndata: {"error": {"message": "boom"}}\n\n'
    assert findings_for(body)["error_events"] == ["stream"]


async def test_an_answer_that_never_ends_is_cut_and_the_probe_goes_on(
    http_client: httpx2.AsyncClient, emulator_state: EmulatorState
) -> None:
    emulator_state.add_fault(Fault("stream", "hang", times=1))
    transcript = await run_probe(http_client, API_KEY, "faq-assistant", exchange_seconds=0.5)
    stream = transcript.exchange("stream")
    assert stream is not None
    assert (stream.status, stream.complete) == (0, False)
    assert transcript.findings["stream_content"] == "not observed (HTTP 0, 0 chunks)"
    invoked = transcript.exchange("invoke")
    assert invoked is not None
    assert (invoked.status, invoked.complete) == (200, True)
