"""`orq-mcp`: parse the command line, load the settings, set up logging on stderr, run the command (serve, check,
config); `--sandbox` puts the built-in orq emulator behind any of them."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import secrets
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import anyio
from pydantic import SecretStr

from orq_mcp.cli.check import LiveCheck, check, live_check
from orq_mcp.cli.client_config import ConfigRequest, print_config
from orq_mcp.cli.options import SETTINGS_FLAGS, build_parser
from orq_mcp.config.keys import stand_in_advice
from orq_mcp.config.settings import Settings, SettingsError
from orq_mcp.serving.http.listen import PortInUse
from orq_mcp.serving.logs import configure_logging

logger = logging.getLogger("orq_mcp")

EXIT_USAGE = 2
EXIT_PORT_IN_USE = 1


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
            anyio.run(run_server, settings)
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
    async with sandboxed(settings) as settings:
        if live is not None:
            return await live_check(settings, live, sys.stdout)
        return await check(settings, sys.stdout)


async def run_server(settings: Settings) -> None:
    """Serve until stopped: one process, or `--workers N` of them on one socket (which the parent binds first, so a
    busy port raises PortInUse here too). A --sandbox emulator is this process's, shared by every worker."""
    async with sandboxed(settings) as settings:
        if settings.workers > 1:
            from orq_mcp.serving.workers import run_workers

            await run_workers(settings)
            return
        from orq_mcp.serving.serve import serve

        await serve(settings)


@asynccontextmanager
async def sandboxed(settings: Settings) -> AsyncIterator[Settings]:
    """The settings as given, or with --sandbox pointed at the orq emulator, run here on a free loopback port."""
    if not settings.sandbox:
        yield settings
        return
    async with sandbox(settings) as pointed:
        yield pointed


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
