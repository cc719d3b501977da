"""Attacks on the HTTP transports (issue #11, items 4-7), measured: `python -m bench.attacks [--quick]`.

Each attack runs against a fresh `python -m orq_mcp --transport http` of this checkout on loopback, bounded in
count and time, and prints one Markdown row: what was done and what the server did. Run it on another checkout
(e.g. main) for the "before" column. All traffic stays on 127.0.0.1; every process started is stopped.

- guessing: wrong `ORQ_MCP_AUTH_TOKEN` guesses, one after another on one connection, for a few seconds;
- sessions: `initialize` without ever ending the session, from one address; then one from 127.0.0.2;
- slowloris: connections that send a request head a byte at a time; how many the server still holds later;
- abandon: streaming `tools/call`s on 2025-06-18 whose clients close the connection; when orq sees them end;
- files: a server limited to 128 open files flooded with idle connections; its log, and a client's fate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx2

from bench.common import REPO, HttpServer, base_env, free_port, http_server, rss, stop_process, wait_listening
from bench.startup import INITIALIZE as STDIO_INITIALIZE
from orq_mcp.sandbox import EmulatorState, EmulatorThread, sample_workspace
from orq_mcp.sandbox.faults import Fault

TOKEN = "bench-attack-token-0123456789abcdef0123"
INITIALIZE = json.loads(STDIO_INITIALIZE)  # the same 2025-06-18 initialize, as a body
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
FILE_LIMIT = 128
API_KEY = "sk-bench-attacks-0123456789"


def sandbox_env(**extra: str) -> dict[str, str]:
    return {**base_env(), **extra}


async def guessing(seconds: float) -> str:
    env = sandbox_env(ORQ_API_KEY="sk-bench", ORQ_BASE_URL="http://127.0.0.1:9", ORQ_MCP_AUTH_TOKEN=TOKEN)
    with http_server(env) as server:
        codes: Counter[int] = Counter()
        async with httpx2.AsyncClient(timeout=10) as http:
            started = time.monotonic()
            while time.monotonic() - started < seconds:
                guess = {"Authorization": f"Bearer guess-{sum(codes.values())}"}
                codes[(await http.post(server.url, json={}, headers=guess)).status_code] += 1
            elapsed = time.monotonic() - started
        log = len(server.log())
    return (
        f"| guessing | {sum(codes.values())} wrong tokens in {elapsed:.0f} s | {codes[401] / elapsed:.1f} guesses/s "
        f"checked ({dict(codes)}), {log / 1024:.0f} KiB of log |"
    )


async def sessions(count: int, emulator: EmulatorThread) -> str:
    env = sandbox_env(ORQ_API_KEY=API_KEY, ORQ_BASE_URL=emulator.base_url)
    with http_server(env) as server:
        before = rss(server.pid)
        codes: Counter[int] = Counter()
        async with httpx2.AsyncClient(timeout=30) as http:
            for _ in range(count):
                codes[(await http.post(server.url, json=INITIALIZE, headers=MCP_HEADERS)).status_code] += 1
        after = rss(server.pid)
        other = httpx2.AsyncHTTPTransport(local_address="127.0.0.2")
        async with httpx2.AsyncClient(transport=other, timeout=30) as http:
            status = (await http.post(server.url, json=INITIALIZE, headers=MCP_HEADERS)).status_code
    return (
        f"| sessions | {count} sessions opened from one address | {dict(codes)}; RSS {before / 2**20:.0f} -> "
        f"{after / 2**20:.0f} MB; another address gets {status} |"
    )


async def slowloris(count: int, hold: float, emulator: EmulatorThread) -> str:
    env = sandbox_env(ORQ_API_KEY=API_KEY, ORQ_BASE_URL=emulator.base_url)
    with http_server(env) as server:
        connections = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(count)]
        started = time.monotonic()

        async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> float | None:
            writer.write(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            while time.monotonic() - started < hold:
                try:
                    writer.write(b"X")
                    await writer.drain()
                    await asyncio.wait_for(reader.read(1), 1)
                    return time.monotonic() - started  # closed (or answered) by the server
                except TimeoutError:
                    continue
                except OSError:
                    return time.monotonic() - started
            return None

        closed = await asyncio.gather(*(trickle(r, w) for r, w in connections))
        for _, writer in connections:
            writer.close()
    dropped = sorted(t for t in closed if t is not None)
    last = f", the last after {dropped[-1]:.1f} s" if dropped else ""
    held = count - len(dropped)
    return f"| slowloris | {count} connections, a byte a second | {held} still held after {hold:.0f} s{last} |"


async def abandon(count: int, emulator: EmulatorThread) -> str:
    state = emulator.state
    state.reset()
    state.add_fault(Fault("stream", "hang", times=count))
    env = sandbox_env(ORQ_API_KEY=API_KEY, ORQ_BASE_URL=emulator.base_url)
    with http_server(env) as server:
        async with httpx2.AsyncClient(timeout=10) as http:
            opened = await http.post(server.url, json=INITIALIZE, headers=MCP_HEADERS)
            session = {"Mcp-Session-Id": opened.headers["mcp-session-id"], "Mcp-Protocol-Version": "2025-06-18"}
            initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            await http.post(server.url, json=initialized, headers={**MCP_HEADERS, **session})
        await asyncio.gather(*(_call_and_hang_up(server.port, session, 100 + i) for i in range(count)))
        hung_up_at = time.monotonic()
        for _ in range(1000):  # up to 10 s, with the server still running
            streams = state.requests_for("stream")
            if len(streams) == count and all(r.disconnected_at for r in streams):
                break
            await asyncio.sleep(0.01)
        ended = sorted(r.disconnected_at - hung_up_at for r in state.requests_for("stream") if r.disconnected_at)
    state.reset()
    when = f"; median {ended[len(ended) // 2] * 1000:.0f} ms, last {ended[-1] * 1000:.0f} ms" if ended else ""
    return f"| abandon | {count} streaming calls, client closes | {len(ended)} orq streams closed within 10 s{when} |"


async def _call_and_hang_up(port: int, session: dict[str, str], request_id: int) -> None:
    params = {"name": "invoke_deployment", "arguments": {"key": "faq-assistant"}}
    call = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}
    body = json.dumps(call).encode()
    headers = {**MCP_HEADERS, **session, "Host": f"127.0.0.1:{port}", "Content-Length": str(len(body))}
    head = "POST /mcp HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head.encode() + body)
    await reader.read(12)  # the response has started
    writer.close()


def start_with_file_limit(emulator: EmulatorThread) -> HttpServer:
    def low_file_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, FILE_LIMIT))

    port = free_port()
    log_path = Path(tempfile.mkdtemp(prefix="orq-mcp-bench-")) / "stderr.log"
    args = [sys.executable, "-m", "orq_mcp", "--transport", "http", "--port", str(port)]
    env = sandbox_env(ORQ_API_KEY=API_KEY, ORQ_BASE_URL=emulator.base_url)
    with log_path.open("wb") as stderr:
        process = subprocess.Popen(
            args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=stderr, preexec_fn=low_file_limit
        )
    return HttpServer(process, port, log_path)


async def files(emulator: EmulatorThread) -> str:
    server = start_with_file_limit(emulator)
    process, port, log_path = server.process, server.port, server.log_path
    try:
        wait_listening(server)
        flood = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2 * FILE_LIMIT)]
        started = time.monotonic()
        outcome = "timed out after 15 s"
        async with httpx2.AsyncClient(timeout=15) as http:
            while time.monotonic() - started < 15:
                try:
                    status = (await http.post(server.url, json=INITIALIZE, headers=MCP_HEADERS)).status_code
                except httpx2.TransportError:
                    status = 0
                if status == 200:
                    outcome = f"served after {time.monotonic() - started:.1f} s"
                    break
                await asyncio.sleep(0.5)
        for _, writer in flood:
            writer.close()
    finally:
        stop_process(process)
    log = log_path.read_text(errors="replace")
    return (
        f"| files | {2 * FILE_LIMIT} idle connections, {FILE_LIMIT}-file limit | a client is {outcome}; "
        f"log {len(log) / 1024:.0f} KiB, {log.count('Traceback')} tracebacks |"
    )


async def run(quick: bool) -> None:
    state = EmulatorState(workspaces={API_KEY: sample_workspace()}, chunk_delay=0.002)
    with EmulatorThread(state) as emulator:
        print("| attack | done | server |\n|---|---|---|")
        print(await guessing(2 if quick else 5))
        print(await sessions(300 if quick else 2000, emulator))
        print(await slowloris(100 if quick else 500, 15, emulator))
        print(await abandon(50, emulator))
        print(await files(emulator))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller attacks (the slowloris row still takes 15 s)")
    asyncio.run(run(parser.parse_args().quick))


if __name__ == "__main__":
    main()
