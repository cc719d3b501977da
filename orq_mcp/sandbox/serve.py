"""Running the emulator under uvicorn: in the current event loop, or in a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

from .app import create_app
from .data import sample_state
from .state import EmulatorState


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves the host process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _config(app: ASGIApp, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="off",
        log_level="warning",
        log_config=None,
        access_log=False,
        ws="none",
        timeout_graceful_shutdown=1,
    )


async def _serve(server: uvicorn.Server) -> None:
    try:
        await server.serve()
    except SystemExit as exc:  # uvicorn exits the process when it cannot bind; keep that inside the task
        raise RuntimeError(f"uvicorn stopped during startup (exit code {exc.code})") from None


def serve_emulator(
    state: EmulatorState, host: str = "127.0.0.1", port: int = 0
) -> contextlib.AbstractAsyncContextManager[str]:
    """Serve ``state`` from a task in the running (asyncio) event loop; yields ``http://host:port``."""
    return serve_app(create_app(state), host, port)


@contextlib.asynccontextmanager
async def serve_app(app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve any ASGI app (the emulator, a transcript replay) the same way; yields ``http://host:port``."""
    server = _EmbeddedServer(_config(app, host, port))
    task = asyncio.get_running_loop().create_task(_serve(server), name="orq-emulator")
    try:
        while not server.started:
            if task.done():
                exc = task.exception() if not task.cancelled() else None
                raise RuntimeError(f"the orq emulator failed to start on {host}:{port}") from exc
            await asyncio.sleep(0.005)
        bound_port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        if not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    task.cancel()  # we are being cancelled ourselves: stop the server hard, then propagate
                    raise


class EmulatorThread:
    """The emulator on a daemon thread with its own event loop, for sync fixtures and benchmarks.

    Usage::

        with EmulatorThread(sample_state("key")) as emu:
            httpx2.get(emu.base_url + "/v2/deployments", headers={"Authorization": "Bearer key"})
    """

    def __init__(
        self,
        state: EmulatorState | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str = "sandbox",
        startup_timeout: float = 10.0,
    ) -> None:
        self.state = state if state is not None else sample_state(api_key)
        self.host, self.port = host, port
        self._startup_timeout = startup_timeout
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._url: str | None = None
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        if self._url is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return self._url

    def start(self) -> EmulatorThread:
        if self._thread is not None:
            raise RuntimeError("the emulator thread was already started")
        self._thread = threading.Thread(target=self._run, name="orq-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(self._startup_timeout):
            raise RuntimeError("the orq emulator did not start in time")
        if self._error is not None:
            raise RuntimeError("the orq emulator failed to start") from self._error
        return self

    def stop(self, timeout: float = 5.0) -> None:
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop may have just closed
                loop.call_soon_threadsafe(stop.set)
        if thread is not None:
            thread.join(timeout)
        self._url = None

    def __enter__(self) -> EmulatorThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # startup failures are re-raised by start()
            self._error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve_emulator(self.state, self.host, self.port) as url:
            self._url = url
            self._ready.set()
            await self._stop.wait()
