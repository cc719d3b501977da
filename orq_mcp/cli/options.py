"""The command line's options: the flags every command shares, each command's own, and an unknown option named
as itself (never the words around it)."""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from orq_mcp import __version__
from orq_mcp.cli.client_config import CLIENTS
from orq_mcp.config.settings import DEFAULT_TOOLSETS, FLAGGED, TOOLSET_NAMES

# Flags shared by every command: (flags, setting name, argparse options).
_OPTIONS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (("--transport",), {"choices": ["stdio", "http", "sse"], "help": "stdio (default), http or sse"}),
    (("--host",), {"help": "address for http/sse (default 127.0.0.1)"}),
    (("--port",), {"type": int, "help": "port for http/sse (default 8000)"}),
    (("--base-url",), {"help": "orq API base URL (default $ORQ_BASE_URL or https://api.orq.ai)"}),
    (("--sandbox",), {"action": "store_true", "help": "use the built-in orq emulator; no key needed"}),
    (("-v", "--verbose"), {"action": "store_true", "help": "debug logging (stderr)"}),
    (
        ("--toolsets",),
        {"help": f"comma-separated: {', '.join(TOOLSET_NAMES)}, or all (default {','.join(DEFAULT_TOOLSETS)})"},
    ),
    (
        ("--dynamic-toolsets",),
        {"action": "store_true", "help": "offer list_toolsets and enable_toolset: each client enables what it needs"},
    ),
    (("--deployments",), {"help": "comma-separated allow-list of deployment keys agents may see and invoke"}),
    (("--agents",), {"help": "comma-separated allow-list of orq agent keys agents may see and invoke"}),
    (("--expose",), {"help": "comma-separated deployment and agent keys (or 'all') that also get a tool of their own"}),
    (
        ("--read-only",),
        {"action": "store_true", "help": "offer no tool that invokes or writes anything (look, don't spend)"},
    ),
    (("--allow-remote",), {"action": "store_true", "help": "allow a non-loopback --host (set ORQ_MCP_AUTH_TOKEN)"}),
    (
        ("--multi-tenant",),
        {"action": "store_true", "help": "http/sse: each client sends its own orq key as `Authorization: Bearer`"},
    ),
    (("--workers",), {"type": int, "help": "http: server processes sharing the port (implies --stateless)"}),
    (("--stateless",), {"action": "store_true", "help": "http: serve handshake-era requests without sessions"}),
    (
        ("--query-config",),
        {"action": "store_true", "help": "http: each connection's orq key comes from its `config` query (Smithery)"},
    ),
]
SETTINGS_FLAGS = FLAGGED  # the settings the options above set


class Parser(argparse.ArgumentParser):
    """argparse that knows, for each option, whether a value follows it, and each command's own parser.

    Plain argparse passes over an option it does not know and takes the word after it for the command:
    `orq-mcp --sandbox --api-key KEY` answered "invalid choice: 'KEY'", naming the key and not the flag.
    `unknown_option` reads the command line the way argparse will and names the first option nobody knows.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.takes_value: dict[str, bool] = {}  # set before argparse adds -h/--help through add_argument
        self.commands: dict[str, Parser] = {}
        super().__init__(*args, **kwargs)

    def add_argument(self, *names: Any, **options: Any) -> argparse.Action:
        action = super().add_argument(*names, **options)
        self.takes_value.update(dict.fromkeys(action.option_strings, action.nargs != 0))
        return action

    def matches(self, option: str) -> list[str]:
        """The options `option` stands for: itself, or those it abbreviates (argparse accepts a unique prefix)."""
        if option in self.takes_value:
            return [option]
        if option.startswith("--"):
            return [name for name in self.takes_value if name.startswith(option)]
        return [option[:2]] if option[:2] in self.takes_value else []  # -vh: short flags run together

    def unknown_option(self, argv: Sequence[str]) -> tuple[Parser, str] | None:
        """The parser that would meet the first option nobody knows, and the option; None when all are known."""
        current = self
        words = iter(argv)
        for word in words:
            if word == "--":
                return None  # everything after it is positional
            if not word.startswith("-") or word == "-" or word[1:2].isdigit():
                current = self.commands.get(word, current) if current is self else current
                continue
            option = word.split("=", 1)[0]
            found = current.matches(option)
            if not found:
                return current, option
            if len(found) == 1 and current.takes_value[found[0]] and "=" not in word and option.startswith("--"):
                next(words, None)  # its value, whatever it looks like
        return None

    def refuse_unknown(self, argv: Sequence[str]) -> None:
        """Exit 2 naming the first unknown option and what to do instead, never the words around it."""
        unknown = self.unknown_option(argv)
        if unknown is None:
            return
        parser, option = unknown
        owners = [name for name, command in self.commands.items() if command is not parser and command.matches(option)]
        if "key" in option.lower():
            hint = "the orq API key comes from the ORQ_API_KEY environment variable only (an argument would show "
            hint += "in `ps`); --sandbox needs no key"
        elif "token" in option.lower():
            hint = "the access token comes from the ORQ_MCP_AUTH_TOKEN environment variable only"
        elif owners:
            hint = f"it is an option of `orq-mcp {owners[0]}`: give it after the command"
        elif close := difflib.get_close_matches(option, [o for o in parser.takes_value if o[1] == "-"], 1, 0.75):
            hint = f"did you mean {close[0]}?"
        else:
            hint = f"see `{parser.prog} --help`"
        parser.error(f"unrecognized option {option}: {hint}")


def _add_options(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: an option not given sets nothing, so a subcommand's parser cannot reset one given before it.
    for flags, options in _OPTIONS:
        parser.add_argument(*flags, default=argparse.SUPPRESS, **options)


def build_parser() -> Parser:
    parser = Parser(
        prog="orq-mcp",
        description="MCP server for orq.ai deployments. The API key comes from ORQ_API_KEY.",
    )
    parser.add_argument("--version", action="version", version=f"orq-mcp {__version__}")
    _add_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="{serve,check,config}", parser_class=Parser)
    serve_parser = commands.add_parser("serve", help="run the MCP server (the default)")
    _add_options(serve_parser)
    check_parser = commands.add_parser("check", help="verify the API key and connectivity, show what is there")
    _add_options(check_parser)
    check_parser.add_argument(
        "--live", action="store_true", help="probe orq's API with mock_response calls (no model cost) and report"
    )
    check_parser.add_argument("--record", type=Path, metavar="FILE", help="with --live: save the JSON transcript")
    check_parser.add_argument("--deployment", metavar="KEY", help="with --live: the chat deployment to probe")
    config = commands.add_parser("config", help="print a config block for an MCP client")
    config.add_argument("client", choices=CLIENTS)
    config.add_argument(
        "--entry", action="store_true", help="print only the server's entry, to add beside your other servers"
    )
    _add_options(config)
    parser.commands = {"serve": serve_parser, "check": check_parser, "config": config}
    return parser
