"""Command line: parse flags, set up logging on stderr, pick the transport, serve."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import logging
import os
import secrets
import socket
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from pydantic import SecretStr

from orq_mcp import __version__
from orq_mcp.orq.redact import RedactingFilter, Redactor
from orq_mcp.serving.client_config import CLIENTS, ConfigRequest, print_config
from orq_mcp.serving.commands import LiveCheck, check, live_check
from orq_mcp.serving.credentials import URL_CREDENTIALS
from orq_mcp.serving.listen import PortInUse, bind
from orq_mcp.serving.proxy import transport_options
from orq_mcp.serving.settings import FLAGGED, Settings, SettingsError, is_loopback, stand_in_advice

if TYPE_CHECKING:
    from orq_mcp.serving.throttle import Buckets
    from orq_mcp.surface.server import OrqMCPServer

logger = logging.getLogger("orq_mcp")

EXIT_USAGE = 2
EXIT_PORT_IN_USE = 1


# Flags shared by every command: (flags, setting name, argparse options).
_OPTIONS: list[tuple[tuple[str, ...], dict[str, object]]] = [
    (("--transport",), {"choices": ["stdio", "http", "sse"], "help": "stdio (default), http or sse"}),
    (("--host",), {"help": "address for http/sse (default 127.0.0.1)"}),
    (("--port",), {"type": int, "help": "port for http/sse (default 8000)"}),
    (("--base-url",), {"help": "orq API base URL (default $ORQ_BASE_URL or https://api.orq.ai)"}),
    (("--sandbox",), {"action": "store_true", "help": "use the built-in orq emulator; no key needed"}),
    (("-v", "--verbose"), {"action": "store_true", "help": "debug logging (stderr)"}),
    (("--deployments",), {"help": "comma-separated allow-list of deployment keys agents may see and invoke"}),
    (("--expose",), {"help": "comma-separated deployment keys (or 'all') that also get a tool of their own"}),
    (("--read-only",), {"action": "store_true", "help": "offer no tool that invokes a deployment (look, don't spend)"}),
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
        parser.add_argument(*flags, default=argparse.SUPPRESS, **options)  # type: ignore[arg-type]


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    parser.refuse_unknown(argv)
    args = parser.parse_args(argv)
    command = args.command or "serve"
    if command != "serve":  # stdout is for people here, not the protocol
        _tolerant_console()
    flags = {name: getattr(args, name) for name in SETTINGS_FLAGS if hasattr(args, name)}
    if command == "config":  # needs no key: it only prints
        return print_config(ConfigRequest(args.client, flags, os.environ, args.entry), sys.stdout, sys.stderr)
    try:
        settings = Settings.load(os.environ, **flags)
    except SettingsError as exc:
        print(f"orq-mcp: {exc}", file=sys.stderr)
        return EXIT_USAGE
    keyless = settings.api_key is None and not settings.sandbox and not settings.per_caller_keys
    if keyless and command == "check":
        print(f"orq-mcp: {_missing_key(settings)}, or run with --sandbox to try the emulator.", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(settings)
    if keyless:  # GUI hosts hide stderr: the tools themselves will say where the key goes
        logger.warning(
            "%s in this server's env in your MCP client's config, or run with --sandbox. Serving the tool list "
            "only until then; every call says so.",
            _missing_key(settings),
        )
    if command == "check":
        live = LiveCheck(args.record, args.deployment) if args.live else None
        return anyio.run(run_check, settings, live)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            anyio.run(serve, settings)
    except PortInUse as exc:
        print(f"orq-mcp: {exc}", file=sys.stderr)
        return EXIT_PORT_IN_USE
    return 0


def _missing_key(settings: Settings) -> str:
    """Why there is no key (unset, or a placeholder in its place) and what to put there."""
    if settings.api_key_stand_in:
        return f"ORQ_API_KEY is {settings.api_key_stand_in}{stand_in_advice(settings.api_key_stand_in)}"
    return "ORQ_API_KEY is not set. Set it to your orq.ai API key"


def _tolerant_console() -> None:
    """A console that cannot show a name (Windows cp1252) gets `\\uXXXX` escapes instead of a crash."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")


async def run_check(settings: Settings, live: LiveCheck | None = None) -> int:
    async with AsyncExitStack() as stack:
        if settings.sandbox:
            settings = await stack.enter_async_context(sandbox(settings))
        if live is not None:
            return await live_check(settings, live, sys.stdout)
        return await check(settings, sys.stdout)


def configure_logging(settings: Settings) -> None:
    """Everything goes to stderr: in stdio mode stdout is the protocol."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    secret = [settings.api_key.get_secret_value()] if settings.api_key else []
    handler.addFilter(RedactingFilter(Redactor(secret), URL_CREDENTIALS))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if settings.verbose else logging.INFO)
    # Request-by-request transport chatter only helps when debugging.
    for noisy in ("httpx2", "httpcore", "httpcore2", "mcp", "sse_starlette", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if settings.verbose else logging.WARNING)


async def serve(
    settings: Settings, sockets: list[socket.socket] | None = None, failures: Buckets | None = None
) -> None:
    """Serve until stopped; a worker inherits its listening socket and the throttle's buckets (see workers.py)."""
    from orq_mcp.orq.client import create_http_client
    from orq_mcp.orq.tracing import instrument, tracing_configured
    from orq_mcp.surface.server import create_server

    async with AsyncExitStack() as stack:
        if settings.sandbox:
            settings = await stack.enter_async_context(sandbox(settings))
        if settings.workers > 1 and sockets is None:
            from orq_mcp.serving.workers import run_workers

            await run_workers(settings)
            return
        proxy = transport_options(settings.base_url)
        http = await stack.enter_async_context(create_http_client(settings.base_url, settings.timeouts, **proxy))
        if tracing_configured():  # e.g. under `opentelemetry-instrument` (the otel extra)
            instrument(http)
        server = create_server(settings, http_client=http)
        if settings.transport == "stdio":
            from orq_mcp.serving.stdio import EOF_SLACK, serve_stdio

            logger.info("orq-mcp %s serving on stdio", __version__)
            await serve_stdio(server, server.redactors.server, answer_within=settings.invoke_timeout + EOF_SLACK)
            return
        await serve_http(server, settings, sockets, failures)


async def serve_http(
    server: OrqMCPServer,
    settings: Settings,
    sockets: list[socket.socket] | None = None,
    failures: Buckets | None = None,
) -> None:
    import asyncio

    import uvicorn

    from orq_mcp.serving.connections import (
        SHUTDOWN_BACKSTOP,
        SHUTDOWN_GRACE,
        Drain,
        DrainingServer,
        FdExhaustionLog,
        connection_cap,
        guarded_protocol,
    )
    from orq_mcp.serving.http import PATHS, build_http_app

    warn_about_exposure(settings)
    app = Drain(build_http_app(server, settings, failures), SHUTDOWN_GRACE)
    path = PATHS[settings.transport]

    # A worker is handed its listening socket; otherwise bind first, so a busy port stops here, before anything
    # is announced.
    owned = [bind(settings.host, settings.port)] if sockets is None else []
    sockets = sockets or owned
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=settings.host,
        port=settings.port,
        log_config=None,  # our stderr handler (with redaction) formats uvicorn's records too
        log_level="debug" if settings.verbose else "info",
        access_log=settings.verbose,  # a line per request is the client's to fill the disk with
        lifespan="on",
        # Connections over the cap are closed when accepted; headers must arrive within request_timeout.
        http=guarded_protocol(settings.request_timeout, connection_cap(settings.max_connections)),
        timeout_keep_alive=5,  # an idle keep-alive connection is closed after 5 s
        timeout_graceful_shutdown=SHUTDOWN_BACKSTOP,  # Drain ends the requests in flight before this
        h11_max_incomplete_event_size=16 * 1024,  # request line and headers: at most 16 KiB
    )
    FdExhaustionLog().install(asyncio.get_running_loop())
    where = f"http://{settings.host}:{sockets[0].getsockname()[1]}{path}"
    logger.info("orq-mcp %s serving %s on %s", __version__, settings.transport, where)
    try:
        await DrainingServer(config, app).serve(sockets=sockets)
    finally:
        for sock in owned:
            sock.close()


def warn_about_exposure(settings: Settings) -> None:
    if settings.allow_remote and not is_loopback(settings.host):
        if settings.auth_token or settings.multi_tenant:
            guard = "bearer token required"
        elif settings.query_config:
            guard = "each connection brings its own orq key; the server's own key is not used"
        else:
            guard = "NO access control"
        logger.warning(
            "Listening on %s: reachable from other machines (%s). Anyone who can connect can invoke "
            "deployments on your orq account.",
            settings.host,
            guard,
        )


@asynccontextmanager
async def sandbox(settings: Settings) -> AsyncIterator[Settings]:
    """Run the orq emulator on a free loopback port and point the settings at it."""
    from orq_mcp.sandbox import EmulatorState, sample_workspace, serve_emulator

    key = "sandbox-" + secrets.token_hex(12)
    state = EmulatorState(workspaces={key: sample_workspace()})
    async with serve_emulator(state) as base_url:
        logger.info("Sandbox: serving sample deployments from the built-in orq emulator (no orq account used)")
        yield settings.model_copy(update={"base_url": base_url, "api_key": SecretStr(key)})


if __name__ == "__main__":
    raise SystemExit(main())
