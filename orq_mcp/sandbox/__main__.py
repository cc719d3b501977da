"""``python -m orq_mcp.sandbox``: serve the sample workspace and print ``ORQ_EMULATOR_URL=...`` once listening."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys

from .data import sample_state
from .serve import serve_emulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m orq_mcp.sandbox", description="Local orq.ai API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("ORQ_API_KEY") or "sandbox",
        help="the bearer key that unlocks the sample workspace (default: $ORQ_API_KEY or 'sandbox')",
    )
    parser.add_argument("--chunk-delay", type=float, default=0.005, help="seconds between SSE chunks")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    state = sample_state(args.api_key, chunk_delay=args.chunk_delay)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with serve_emulator(state, args.host, args.port) as url:
        print(f"ORQ_EMULATOR_URL={url}", flush=True)
        logging.getLogger("orq_mcp.sandbox").info("orq emulator listening on %s", url)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main()
