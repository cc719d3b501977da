"""`orq-mcp config <client>`: the block to paste into an MCP client, for this installation and these settings.

Never prints a secret: the orq key and the access token are always placeholders.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from orq_mcp.config.settings import ENV_VARS

CLIENTS = ("claude-desktop", "cursor", "vscode", "claude-code")
NAME = "orq"
KEY_PLACEHOLDER = "your-orq-api-key"
TOKEN_PLACEHOLDER = "your-orq-mcp-auth-token"
# Settings about how the server listens rather than what it serves: they stay out of a stdio launch block.
LISTENING = frozenset(
    {"transport", "host", "port", "allow_remote", "allowed_hosts", "allowed_origins", "auth_token", "multi_tenant"}
)
SECRETS = frozenset({"api_key", "auth_token"})
# uv keeps the environments of `uvx` (`uv tool run`) in its cache, under these folders; they vanish on
# `uv cache clean` and change with every release, so a config must not point into them.
UV_CACHE_FOLDERS = frozenset({"archive-v0", "builds-v0"})

WHERE = {
    "claude-desktop": (
        "Claude Desktop: Settings > Developer > Edit Config (macOS: ~/Library/Application Support/Claude/"
        "claude_desktop_config.json; Windows: %APPDATA%\\Claude\\claude_desktop_config.json)."
    ),
    "cursor": "Cursor: ~/.cursor/mcp.json (all projects) or .cursor/mcp.json (this project).",
    "vscode": "VS Code: .vscode/mcp.json in your workspace (or 'MCP: Open User Configuration').",
}
CONTAINER = {"claude-desktop": "mcpServers", "cursor": "mcpServers", "vscode": "servers"}


@dataclass(frozen=True)
class ConfigRequest:
    """What the user asked for: the client, the flags they gave (by setting name), their environment."""

    client: str
    flags: Mapping[str, object]
    env: Mapping[str, str]
    entry_only: bool = False

    def setting(self, name: str, default: str = "") -> str:
        """A flag's value, else its environment variable's, else `default`."""
        if name in self.flags:
            return str(self.flags[name])
        variable = next(var for var, field in ENV_VARS.items() if field == name)
        return self.env.get(variable, "").strip() or default

    @property
    def transport(self) -> str:
        return self.setting("transport", "stdio")


def is_uvx_environment(prefix: Path, env: Mapping[str, str]) -> bool:
    """Whether this interpreter runs from a throwaway `uvx` environment inside uv's cache."""
    if UV_CACHE_FOLDERS & set(prefix.parts):
        return True
    cache = env.get("UV_CACHE_DIR", "").strip()
    return bool(cache) and prefix.is_relative_to(Path(cache))


def launcher(env: Mapping[str, str]) -> tuple[str, list[str]]:
    """An absolute command for this installation: GUI apps do not inherit the shell's PATH."""
    if is_uvx_environment(Path(sys.prefix), env):
        return shutil.which("uvx", path=env.get("PATH")) or "uvx", ["orq-mcp"]
    script = Path(sys.executable).with_name("orq-mcp")
    if script.exists():
        return str(script), []
    found = shutil.which("orq-mcp", path=env.get("PATH"))
    if found:
        return str(Path(found).resolve()), []
    return str(Path(sys.executable).resolve()), ["-m", "orq_mcp"]


def launch_args(request: ConfigRequest, *, listening: bool = False) -> list[str]:
    """The flags the user gave that belong in the launch command; `listening`: also how to listen (host, port)."""
    args: list[str] = []
    for name, value in request.flags.items():
        if (name in LISTENING and not listening) or value is False or value is None:
            continue
        flag = f"--{name.replace('_', '-')}"
        args += [flag] if value is True else [flag, str(value)]
    return args


def launch_env(request: ConfigRequest) -> dict[str, str]:
    """ORQ_* variables the user set (except secrets and listening ones), and the key's placeholder."""
    env = {
        var: request.env[var].strip()
        for var, field in ENV_VARS.items()
        if request.env.get(var, "").strip() and field not in LISTENING | SECRETS
    }
    if not request.flags.get("sandbox"):
        env = {"ORQ_API_KEY": KEY_PLACEHOLDER, **env}
    return env


def stdio_entry(request: ConfigRequest) -> dict[str, Any]:
    command, base_args = launcher(request.env)
    entry: dict[str, Any] = {"command": command, "args": [*base_args, *launch_args(request)]}
    env = launch_env(request)
    if request.client == "vscode" and not request.entry_only and "ORQ_API_KEY" in env:
        env["ORQ_API_KEY"] = "${input:orq-api-key}"  # VS Code asks once and keeps it in its secret storage
    if request.client == "vscode":
        entry = {"type": "stdio", **entry}
    return {**entry, "env": env} if env else entry


def http_url(request: ConfigRequest) -> str:
    from orq_mcp.serving.http.app import PATHS  # only here: it imports the MCP SDK's server side

    host = request.setting("host", "127.0.0.1")
    host = "127.0.0.1" if host in WILDCARDS else host
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{host}:{request.setting('port', '8000')}{PATHS[request.transport]}"


def bearer_secret(request: ConfigRequest) -> str | None:
    """Which secret the server will demand as `Authorization: Bearer`: "key", "token", or None."""
    if request.flags.get("multi_tenant") or _truthy(request.env.get("ORQ_MCP_MULTI_TENANT", "")):
        return "key"  # each client brings its own orq key
    if request.env.get("ORQ_MCP_AUTH_TOKEN", "").strip():
        return "token"
    return None


def bearer(request: ConfigRequest, secrets: Mapping[str, str]) -> str | None:
    """The `Authorization` header value, with `secrets[kind]` standing for the secret."""
    kind = bearer_secret(request)
    return f"Bearer {secrets[kind]}" if kind else None


WILDCARDS = frozenset({"0.0.0.0", "::", "[::]"})
PLACEHOLDERS = {"key": KEY_PLACEHOLDER, "token": TOKEN_PLACEHOLDER}
VSCODE_INPUTS = {"key": "${input:orq-api-key}", "token": "${input:orq-mcp-token}"}


def http_entry(request: ConfigRequest) -> dict[str, Any]:
    url = http_url(request)
    if request.client == "claude-desktop":  # Claude Desktop's config file starts local servers only: bridge it
        args = ["-y", "mcp-remote", url, *(["--transport", "sse-only"] if request.transport == "sse" else [])]
        auth = bearer(request, PLACEHOLDERS)
        if auth is None:
            return {"command": "npx", "args": args}
        # In `env`, not `args`: a space inside an argument breaks on Windows (mcp-remote's documented form).
        args += ["--header", "Authorization:${ORQ_MCP_AUTH}"]
        return {"command": "npx", "args": args, "env": {"ORQ_MCP_AUTH": auth}}
    entry: dict[str, Any] = {"url": url}
    auth = bearer(request, PLACEHOLDERS)
    if request.client == "vscode":
        entry = {"type": "http" if request.transport == "http" else "sse", **entry}
        auth = bearer(request, VSCODE_INPUTS)
    return {**entry, "headers": {"Authorization": auth}} if auth else entry


def client_config(request: ConfigRequest) -> dict[str, Any]:
    """The JSON document for `request.client` (claude-desktop, cursor, vscode)."""
    entry = stdio_entry(request) if request.transport == "stdio" else http_entry(request)
    document: dict[str, Any] = {CONTAINER[request.client]: {NAME: entry}}
    secret = json.dumps(entry)
    if "${input:orq-api-key}" in secret:
        document = {"inputs": [_input("orq-api-key", "orq.ai API key")], **document}
    if "${input:orq-mcp-token}" in secret:
        document = {"inputs": [_input("orq-mcp-token", "orq-mcp access token")], **document}
    return document


def claude_code_command(request: ConfigRequest) -> list[str]:
    """`claude mcp add ...` for Claude Code."""
    if request.transport != "stdio":
        auth = bearer(request, PLACEHOLDERS)
        header = ["--header", f"Authorization: {auth}"] if auth else []
        return ["claude", "mcp", "add", "--transport", request.transport, NAME, http_url(request), *header]
    command, base_args = launcher(request.env)
    env = [part for var, value in launch_env(request).items() for part in ("--env", f"{var}={value}")]
    return ["claude", "mcp", "add", NAME, *env, "--", command, *base_args, *launch_args(request)]


def render(request: ConfigRequest) -> tuple[str, str]:
    """What to print, and where it goes."""
    if request.client == "claude-code":
        return shlex.join(claude_code_command(request)), "Run this in a terminal (--scope user: every project)."
    container = CONTAINER[request.client]
    if request.entry_only:
        entry = {NAME: client_config(request)[container][NAME]}
        # Just the `"orq": {...}` member, to paste among the servers already there: no enclosing braces.
        lines = json.dumps(entry, indent=2).splitlines()[1:-1]
        beside = "beside your other servers (a comma between entries)"
        where = f'Paste this inside "{container}", {beside}. {WHERE[request.client]}'
        return "\n".join(line[2:] for line in lines), where
    return json.dumps(client_config(request), indent=2), f"Paste this into {WHERE[request.client]}"


def print_config(request: ConfigRequest, out: TextIO, err: TextIO) -> int:
    text, where = render(request)
    print(text, file=out)
    print(where, file=err)
    if request.transport != "stdio":
        flags = launch_args(request, listening=True)
        serve = shlex.join(["orq-mcp", *([] if "--transport" in flags else ["--transport", request.transport]), *flags])
        key = "" if bearer_secret(request) == "key" else " (with ORQ_API_KEY set)"
        print(f"Start the server first: {serve}{key}.", file=err)
        if request.setting("host") in WILDCARDS:
            print("Clients on other machines use this machine's name or address instead of 127.0.0.1.", file=err)
        if bearer_secret(request) is None:
            print("The server asks for no token (loopback only); set ORQ_MCP_AUTH_TOKEN to require one.", file=err)
    if KEY_PLACEHOLDER in text:
        print(f'Replace "{KEY_PLACEHOLDER}" with your orq.ai API key (orq.ai: Settings > API Keys).', file=err)
    if TOKEN_PLACEHOLDER in text:
        print(f'Replace "{TOKEN_PLACEHOLDER}" with the server\'s ORQ_MCP_AUTH_TOKEN.', file=err)
    if "${input:" in text:
        print("VS Code asks for the secret once and keeps it in its secret storage.", file=err)
    return 0


def _input(input_id: str, description: str) -> dict[str, Any]:
    return {"type": "promptString", "id": input_id, "description": description, "password": True}


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")
