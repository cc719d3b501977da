"""`orq-mcp check` and `orq-mcp config <client>`, run as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orq_mcp.sandbox import EmulatorState, EmulatorThread, Fault, sample_workspace
from tests.conftest import API_KEY


def run(*args: str, env: dict[str, str] | None = None, encoding: str = "utf-8") -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ORQ_")}
    return subprocess.run(
        [sys.executable, "-m", "orq_mcp", *args],
        env={**base, **(env or {})},
        capture_output=True,
        encoding=encoding,
        timeout=60,
        check=False,
    )


def test_check_reports_what_the_workspace_holds(emulator: EmulatorThread, emulator_state: EmulatorState) -> None:
    done = run("check", env={"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": emulator.base_url})
    assert done.returncode == 0, done.stderr
    assert "API key accepted" in done.stdout
    assert "deployments: 5 (product-copywriter, support-triage" in done.stdout
    assert "prompts: 4" in done.stdout
    assert API_KEY not in done.stdout + done.stderr


def test_check_fails_clearly_on_a_bad_key(emulator: EmulatorThread, emulator_state: EmulatorState) -> None:
    done = run("check", env={"ORQ_API_KEY": "sk-not-a-real-key-at-all", "ORQ_BASE_URL": emulator.base_url})
    assert done.returncode == 1
    assert "FAILED: orq rejected the API key" in done.stdout
    assert "ORQ_API_KEY" in done.stdout
    assert "sk-not-a-real-key-at-all" not in done.stdout + done.stderr


def test_check_fails_clearly_when_orq_is_unreachable(emulator_state: EmulatorState) -> None:
    done = run("check", env={"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": "http://127.0.0.1:9", "ORQ_MAX_RETRIES": "0"})
    assert done.returncode == 1
    assert "Could not connect to orq" in done.stdout


def test_check_survives_a_key_without_prompt_access(emulator: EmulatorThread, emulator_state: EmulatorState) -> None:
    emulator_state.add_fault(Fault("list_prompts", "status", status=403, times=-1))
    done = run("check", env={"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": emulator.base_url})
    assert done.returncode == 0
    assert "prompts: unavailable" in done.stdout


def test_check_needs_a_key() -> None:
    done = run("check")
    assert done.returncode == 2
    assert "ORQ_API_KEY" in done.stderr


@pytest.mark.parametrize("client", ["claude-desktop", "cursor"])
def test_config_block_uses_an_absolute_launcher(client: str) -> None:
    done = run("config", client, "--expose", "support-triage")
    assert done.returncode == 0, done.stderr
    server = json.loads(done.stdout)["mcpServers"]["orq"]
    assert Path(server["command"]).is_absolute()
    assert Path(server["command"]).exists()
    assert server["args"][-2:] == ["--expose", "support-triage"]
    assert server["env"] == {"ORQ_API_KEY": "your-orq-api-key"}
    assert "Replace" in done.stderr


def test_vscode_config_asks_for_the_key() -> None:
    done = run("config", "vscode")
    assert done.returncode == 0
    config = json.loads(done.stdout)
    assert config["servers"]["orq"]["type"] == "stdio"
    assert config["servers"]["orq"]["env"]["ORQ_API_KEY"] == "${input:orq-api-key}"
    assert config["inputs"][0]["password"] is True


def test_config_never_prints_the_key_from_the_environment() -> None:
    done = run("config", "claude-desktop", env={"ORQ_API_KEY": API_KEY})
    assert API_KEY not in done.stdout + done.stderr


def test_the_printed_command_starts_a_working_server(tmp_path: Path) -> None:
    done = run("config", "cursor")
    server = json.loads(done.stdout)["mcpServers"]["orq"]
    started = subprocess.run(
        [server["command"], *server["args"], "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert started.returncode == 0
    assert started.stdout.startswith("orq-mcp ")


# Pasted keys ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pasted", [f"{API_KEY}\n", f"  {API_KEY} \r\n", f"\t{API_KEY}"])
def test_check_accepts_a_key_pasted_with_whitespace(
    emulator: EmulatorThread, emulator_state: EmulatorState, pasted: str
) -> None:
    done = run("check", env={"ORQ_API_KEY": pasted, "ORQ_BASE_URL": emulator.base_url})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "API key accepted" in done.stdout


@pytest.mark.parametrize(
    ("placeholder", "says"),
    [
        ("${ORQ_API_KEY}", "unexpanded variable reference"),
        ("$ORQ_API_KEY", "unexpanded variable reference"),
        ("%ORQ_API_KEY%", "unexpanded variable reference"),
        ("your-orq-api-key", "example placeholder"),
        ("<your orq api key>", "example placeholder"),
    ],
)
@pytest.mark.parametrize("command", [["check"], []])
def test_a_placeholder_key_is_named_as_such(command: list[str], placeholder: str, says: str) -> None:
    done = run(*command, env={"ORQ_API_KEY": placeholder})
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("orq-mcp: Invalid configuration: ORQ_API_KEY: ")
    assert says in line
    assert "Settings > API Keys" in line


def test_a_key_broken_over_lines_is_refused_without_echoing_it() -> None:
    done = run("check", env={"ORQ_API_KEY": API_KEY[:14] + "\n" + API_KEY[14:]})
    assert done.returncode == 2
    assert "line breaks inside it" in done.stderr
    for fragment in (API_KEY[:14], API_KEY[14:]):
        assert fragment not in done.stdout + done.stderr


# Consoles that cannot print every name ----------------------------------------------------------------------------


def test_check_survives_a_cp1252_console(emulator: EmulatorThread, emulator_state: EmulatorState) -> None:
    workspace = sample_workspace()
    workspace.deployments[0]["key"] = "résumé-日本語-writer"
    workspace.prompts[0]["display_name"] = "翻訳-prompt"
    key = "sk-orq-cp1252-console-test-key"  # a workspace of its own: the others keep the sample names
    emulator_state.add_workspace(key, workspace)
    env = {"ORQ_API_KEY": key, "ORQ_BASE_URL": emulator.base_url, "PYTHONIOENCODING": "cp1252"}
    done = run("check", env=env, encoding="cp1252")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "résumé-" in done.stdout  # cp1252 has these letters; the rest is escaped, not dropped
    assert "\\u65e5\\u672c\\u8a9e" in done.stdout
    assert "OK: orq-mcp is ready" in done.stdout
