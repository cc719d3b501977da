"""`orq-mcp check` and `orq-mcp config <client>`, run as real processes."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path
from typing import Any

import pytest

from orq_mcp.cli.client_config import is_uvx_environment
from orq_mcp.sandbox import EmulatorState, EmulatorThread, Fault, sample_workspace
from orq_mcp.sandbox.data import SAMPLE_DEPLOYMENTS, SAMPLE_PROMPTS
from tests.conftest import API_KEY
from tests.paths import REPO
from tests.processes import HttpServer, server_env
from tests.serving.test_exposure import connect

SITE_PACKAGES = sysconfig.get_paths()["purelib"]
README = REPO / "README.md"


def run(*args: str, env: dict[str, str] | None = None, encoding: str = "utf-8") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orq_mcp", *args],
        env=server_env(key=None, **(env or {})),
        capture_output=True,
        encoding=encoding,
        timeout=60,
        check=False,
    )


def test_check_reports_what_the_workspace_holds(emulator: EmulatorThread, emulator_state: EmulatorState) -> None:
    done = run("check", env={"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": emulator.base_url})
    assert done.returncode == 0, done.stderr
    assert "API key accepted" in done.stdout
    assert f"deployments: {len(SAMPLE_DEPLOYMENTS)} (product-copywriter, support-triage" in done.stdout
    assert f"prompts: {len(SAMPLE_PROMPTS)}" in done.stdout
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


def test_the_printed_command_starts_a_working_server() -> None:
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
def test_check_names_a_placeholder_key_as_such(placeholder: str, says: str) -> None:
    """`check` is run by a person at a terminal: it stops there. Serving goes on without a key (test_keyless.py)."""
    done = run("check", env={"ORQ_API_KEY": placeholder})
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("orq-mcp: ORQ_API_KEY is ")
    assert says in line
    assert "Settings > API Keys" in line
    assert placeholder not in line


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


# `config`: uvx, the user's settings, Claude Code, HTTP clients, the entry alone ----------------------------------


def config_json(*args: str, env: dict[str, str] | None = None) -> tuple[dict[str, Any], str]:
    done = run("config", *args, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def config_through_uvx(tmp_path: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    """`orq-mcp config ...` from an interpreter inside uv's cache (where `uvx` puts its throwaway environments)."""
    ephemeral = tmp_path / "cache" / "uv" / "archive-v0" / "x7Fq2"
    venv.create(ephemeral, with_pip=False)
    # The throwaway environment sees this installation, as uvx's would see the one it installed.
    (site,) = (ephemeral / "lib").glob("python3.*/site-packages")
    (site / "orq_mcp_under_test.pth").write_text(f"{SITE_PACKAGES}\n{REPO}\n")
    env = server_env(key=None)
    done = subprocess.run(
        [str(ephemeral / "bin" / "python"), "-m", "orq_mcp", "config", *args],
        env=env if path is None else {**env, "PATH": path},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_config_run_through_uvx_prints_the_uvx_form(tmp_path: Path) -> None:
    done = config_through_uvx(tmp_path, "cursor", "--expose", "support-triage")
    server = json.loads(done.stdout)["mcpServers"]["orq"]
    assert Path(server["command"]).name == "uvx"
    assert server["args"] == ["orq-mcp", "--expose", "support-triage"]
    assert "archive-v0" not in done.stdout


def test_the_quick_starts_uvx_block_says_when_it_works_and_is_what_config_prints_under_uvx(tmp_path: Path) -> None:
    """Before the first release `uvx orq-mcp` finds nothing on PyPI: the block must say so, and what works now."""
    quick_start = README.read_text(encoding="utf-8").split("## Quick start", 1)[1].split("\n## ", 1)[0]
    before, block = re.search(r"```\n(.*?)```json\n(.*?\"uvx\".*?)\n```", quick_start, re.DOTALL).groups()  # type: ignore[union-attr]
    assert "first release" in before, before
    assert "orq-mcp config" in before, before  # what prints a block for a clone or wheel install
    empty = tmp_path / "bin"
    empty.mkdir()  # no uvx on PATH: the bare name, as the README shows it
    printed = json.loads(config_through_uvx(tmp_path, "claude-desktop", path=str(empty)).stdout)
    assert json.loads(block) == printed["mcpServers"]["orq"]
    installed = json.loads(run("config", "claude-desktop").stdout)["mcpServers"]["orq"]
    assert Path(installed["command"]).is_absolute()  # this (venv) installation: its own launcher, not uvx
    assert installed["env"] == printed["mcpServers"]["orq"]["env"]


def test_uv_cache_dir_counts_as_uvs_cache(tmp_path: Path) -> None:
    assert is_uvx_environment(tmp_path / "c" / "env", {"UV_CACHE_DIR": str(tmp_path / "c")})
    assert not is_uvx_environment(tmp_path / "project" / ".venv", {"UV_CACHE_DIR": str(tmp_path / "c")})
    assert not is_uvx_environment(Path.home() / ".local" / "share" / "uv" / "tools" / "orq-mcp", {})


def test_config_carries_the_users_settings_and_they_work(
    emulator: EmulatorThread, emulator_state: EmulatorState
) -> None:
    token = "t" * 40
    user_env = {"ORQ_TIMEOUT": "45", "ORQ_MCP_PORT": "9999", "ORQ_MCP_AUTH_TOKEN": token, "ORQ_API_KEY": API_KEY}
    config, _ = config_json("cursor", "--base-url", emulator.base_url, "--deployments", "support-triage", env=user_env)
    server = config["mcpServers"]["orq"]
    assert server["args"] == ["--base-url", emulator.base_url, "--deployments", "support-triage"]
    # Secrets stay placeholders; how to listen (a port) is no business of a stdio launch.
    assert server["env"] == {"ORQ_API_KEY": "your-orq-api-key", "ORQ_TIMEOUT": "45"}
    assert token not in json.dumps(config)
    assert API_KEY not in json.dumps(config)
    # The block, with the key filled in, starts a server that uses those settings.
    checked = subprocess.run(
        [server["command"], "check", *server["args"]],
        env=server_env(**{**server["env"], "ORQ_API_KEY": API_KEY}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "deployments: 1 (support-triage)" in checked.stdout


def test_config_for_the_sandbox_needs_no_key() -> None:
    config, err = config_json("claude-desktop", "--sandbox")
    assert config["mcpServers"]["orq"]["args"] == ["--sandbox"]
    assert "env" not in config["mcpServers"]["orq"]
    assert "Replace" not in err


def test_claude_code_gets_a_claude_mcp_add_command() -> None:
    done = run("config", "claude-code", "--expose", "faq-assistant", env={"ORQ_BASE_URL": "http://orq.test"})
    assert done.returncode == 0, done.stderr
    words = shlex.split(done.stdout)
    separator = words.index("--")
    assert words[:4] == ["claude", "mcp", "add", "orq"]
    assert words[4:separator] == ["--env", "ORQ_API_KEY=your-orq-api-key", "--env", "ORQ_BASE_URL=http://orq.test"]
    command = words[separator + 1 :]
    assert command[-2:] == ["--expose", "faq-assistant"]
    started = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert started.stdout.startswith("orq-mcp ")


@pytest.mark.parametrize("transport", ["http", "sse"])
def test_http_configs_name_the_url_and_the_token_header(transport: str) -> None:
    token_env = {"ORQ_MCP_AUTH_TOKEN": "s" * 40}
    args = ("--transport", transport, "--port", "8123")
    url = f"http://127.0.0.1:8123/{'mcp' if transport == 'http' else 'sse'}"
    cursor, err = config_json("cursor", *args, env=token_env)
    assert cursor == {
        "mcpServers": {"orq": {"url": url, "headers": {"Authorization": "Bearer your-orq-mcp-auth-token"}}}
    }
    assert f"orq-mcp --transport {transport} --port 8123" in err
    vscode, _ = config_json("vscode", *args, env=token_env)
    assert vscode["servers"]["orq"] == {
        "type": transport,
        "url": url,
        "headers": {"Authorization": "Bearer ${input:orq-mcp-token}"},
    }
    assert vscode["inputs"][0]["id"] == "orq-mcp-token"
    assert vscode["inputs"][0]["password"] is True
    desktop, _ = config_json("claude-desktop", *args, env=token_env)
    bridge = desktop["mcpServers"]["orq"]
    assert bridge["command"] == "npx"
    assert bridge["args"][:3] == ["-y", "mcp-remote", url]
    assert bridge["args"][-2:] == ["--header", "Authorization:${ORQ_MCP_AUTH}"]
    assert bridge["env"] == {"ORQ_MCP_AUTH": "Bearer your-orq-mcp-auth-token"}
    code = run("config", "claude-code", *args, env=token_env)
    assert shlex.split(code.stdout) == [
        *("claude", "mcp", "add", "--transport", transport, "orq", url),
        *("--header", "Authorization: Bearer your-orq-mcp-auth-token"),
    ]
    for done in (code, run("config", "cursor", *args, env=token_env)):
        assert "s" * 40 not in done.stdout + done.stderr


def test_http_config_without_a_token_says_none_is_needed() -> None:
    cursor, err = config_json("cursor", "--transport", "http")
    assert cursor == {"mcpServers": {"orq": {"url": "http://127.0.0.1:8000/mcp"}}}
    assert "asks for no token" in err


async def test_the_printed_http_config_connects(tmp_path: Path) -> None:
    token = "a-shared-access-token-of-forty-chars-xyz"
    server = HttpServer.start("http", {"ORQ_MCP_AUTH_TOKEN": token}, tmp_path, args=["--sandbox"]).ready()
    try:
        config, _ = config_json(
            "cursor", "--transport", "http", "--port", str(server.port), env={"ORQ_MCP_AUTH_TOKEN": token}
        )
        entry = config["mcpServers"]["orq"]
        assert entry["url"] == server.url
        headers = {"Authorization": entry["headers"]["Authorization"].replace("your-orq-mcp-auth-token", token)}
        async with connect(server, headers) as client:
            tools = await client.list_tools()
        assert "invoke_deployment" in {tool.name for tool in tools.tools}
    finally:
        server.stop()


@pytest.mark.parametrize("client", ["claude-desktop", "cursor", "vscode"])
def test_the_entry_alone_pastes_beside_other_servers(client: str) -> None:
    done = run("config", client, "--entry", "--deployments", "faq-assistant")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith('"orq": {')
    container = "servers" if client == "vscode" else "mcpServers"
    other = '"other": {"command": "other-server"}'
    existing = f'{{"{container}": {{{other},\n{done.stdout}}}}}'
    servers = json.loads(existing)[container]
    assert set(servers) == {"other", "orq"}
    assert servers["orq"]["args"] == ["--deployments", "faq-assistant"]
    assert servers["orq"]["env"] == {"ORQ_API_KEY": "your-orq-api-key"}
    assert "beside your other servers" in done.stderr
