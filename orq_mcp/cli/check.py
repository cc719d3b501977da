"""`orq-mcp check`: is the key good, is orq reachable, what is there."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import httpx2

from orq_mcp.cli.probe import run_probe
from orq_mcp.config.settings import Settings
from orq_mcp.orq.client import OrqClient
from orq_mcp.orq.errors import AuthenticationError, OrqConnectionError, OrqError, OrqTimeoutError, PermissionDeniedError
from orq_mcp.orq.redact import Redactor
from orq_mcp.serving.upstream import orq_http

SHOWN_KEYS = 5


async def check(settings: Settings, console: TextIO) -> int:
    """Call orq the way the server will; print what was found. 0 when everything works.

    Everything printed passes one redactor: orq's error text and the workspace's names are not ours
    to trust, and either may quote the key.
    """
    out = ScrubbedWriter(console, Redactor([settings.api_key.get_secret_value()] if settings.api_key else []))
    print(f"Checking orq at {settings.base_url} ...", file=out)
    async with orq_http(settings) as http:
        key = settings.api_key.get_secret_value() if settings.api_key else ""
        orq = OrqClient(http, key, timeouts=settings.timeouts, retry=settings.retry)
        started = time.perf_counter()
        try:
            deployments = await orq.list_deployments(limit=50)
        except OrqError as exc:
            print(f"FAILED: {_diagnose(exc)}", file=out)
            return 1
        elapsed = (time.perf_counter() - started) * 1000
        print(f"  orq reachable, API key accepted ({elapsed:.0f} ms)", file=out)
        keys = [d.key for d in deployments.data if settings.deployments is None or d.key in settings.deployments]
        more = "+" if deployments.has_more else ""
        print(f"  deployments: {len(keys)}{more}{_first(keys)}", file=out)
        if settings.deployments is not None:
            missing = sorted(settings.deployments - {d.key for d in deployments.data})
            if missing and not deployments.has_more:
                print(f"  warning: ORQ_DEPLOYMENTS names keys this workspace lacks: {', '.join(missing)}", file=out)
        try:
            prompts = await orq.list_prompts(limit=200)
            names = [p.display_name for p in prompts.data]
            print(f"  prompts: {len(names)}{'+' if prompts.has_more else ''}{_first(names)}", file=out)
        except OrqError as exc:  # deployments work; the prompt library is optional
            print(f"  prompts: unavailable ({_diagnose(exc)})", file=out)
    clients = "claude-desktop` (or cursor, vscode, claude-code)"
    print(f"OK: orq-mcp is ready. Run `orq-mcp config {clients} for a config block.", file=out)
    return 0


class ScrubbedWriter:
    """A text stream that redacts the key from each piece written (print writes a line whole)."""

    def __init__(self, out: TextIO, redactor: Redactor) -> None:
        self._out = out
        self._redactor = redactor

    def write(self, text: str) -> int:
        return self._out.write(self._redactor.text(text))

    def flush(self) -> None:
        self._out.flush()


@dataclass(frozen=True)
class LiveCheck:
    record: Path | None = None
    deployment: str | None = None


async def live_check(settings: Settings, live: LiveCheck, console: TextIO) -> int:
    """`check --live`: record what orq does on the open questions, with mock_response calls only."""
    key = settings.api_key.get_secret_value() if settings.api_key else ""
    out = ScrubbedWriter(console, Redactor([key]))  # findings quote orq's answers
    print(f"Probing orq at {settings.base_url} (mock_response calls: no model cost) ...", file=out)
    async with orq_http(settings) as http:
        try:
            transcript = await run_probe(http, key, live.deployment)
        except httpx2.HTTPError:
            print("FAILED: could not talk to orq. Check your network and ORQ_BASE_URL.", file=out)
            return 1
    if live.record is not None:
        transcript.save(live.record)
    listed = transcript.exchange("list_deployments")
    if listed is None or listed.status != 200:
        status = listed.status if listed else "none"
        print(f"FAILED: listing deployments answered HTTP {status}. Check ORQ_API_KEY.", file=out)
        return 1
    if transcript.deployment is None:
        which = f"'{live.deployment}'" if live.deployment else "a chat or completion deployment"
        print(f"FAILED: found no {which} in the first 50 deployments to probe.", file=out)
        return 1
    print(f"  deployment: {transcript.deployment}", file=out)
    for name, value in transcript.findings.items():
        print(f"  {name}: {json.dumps(value)}", file=out)
    saved = f" Transcript saved to {live.record}." if live.record else " Add --record FILE to keep the transcript."
    print(f"OK: probe finished.{saved}", file=out)
    return 0


def _first(names: list[str]) -> str:
    if not names:
        return ""
    shown = ", ".join(names[:SHOWN_KEYS])
    return f" ({shown}{', ...' if len(names) > SHOWN_KEYS else ''})"


def _diagnose(error: OrqError) -> str:
    if isinstance(error, AuthenticationError):
        return f"orq rejected the API key ({error.message}). Set ORQ_API_KEY to a valid orq.ai API key."
    if isinstance(error, PermissionDeniedError):
        return f"the API key may not list deployments ({error.message}). Use a key with access to the project."
    if isinstance(error, OrqConnectionError | OrqTimeoutError):
        return f"{error.message} Check your network and ORQ_BASE_URL."
    return f"{type(error).__name__}: {error.message}"
